package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
)

// echoActor is the name of the raw reference's echo actor on the handler's
// node.
const echoActor = "bench-echo"

// callFunc is one request-response cycle of caller number caller.
type callFunc func(ctx context.Context, caller int) error

// exchangeCall returns the cycle through a bourse exchange: a Request with
// its own deadline, as a service would make it (ctx is the row's: Ctrl-C). Sticky strategies get a key
// per caller.
func exchangeCall(c config, b *actors.Broker, name string) callFunc {
	payload := newPayload(c.payload)
	// Each request gets its own deadline through WithTimeout, a pooled timer:
	// a context.WithTimeout per request cost a third of the CPU of a
	// sequential row in one process (timer, context, cancel).
	opts := make([][]actors.CallOption, max(4, maxInt(c.par)))
	for i := range opts {
		opts[i] = []actors.CallOption{actors.WithTimeout(c.timeout)}
		if c.strategy == "sticky" {
			opts[i] = append(opts[i], actors.WithKey("caller-"+strconv.Itoa(i)))
		}
	}
	return func(ctx context.Context, caller int) error {
		_, err := b.Request(ctx, name, payload, opts[caller]...)
		return err
	}
}

// rawCall returns the cycle of the reference: protoactor's RequestFuture to
// an echo actor, with the same deadline.
func rawCall(c config, sys *actor.ActorSystem, pid *actor.PID) callFunc {
	payload := newPayload(c.payload)
	return func(context.Context, int) error {
		_, err := sys.Root.RequestFuture(pid, payload, c.timeout).Result()
		return err
	}
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// runTable warms call up and runs every row of the table with it, printing
// each row as it ends.
func (r *runner) runTable(ctx context.Context, title, path string, nodes int, call callFunc, otherCPU func() time.Duration) ([]Row, error) {
	r.section(title)
	if err := warmUp(ctx, r.cfg, call); err != nil {
		return nil, fmt.Errorf("%s: %w", title, err)
	}
	var rows []Row
	for _, spec := range rowSpecs(r.cfg, path, nodes) {
		tick := r.progress.start(spec, title)
		row := runRow(ctx, spec, call, otherCPU, tick)
		r.progress.end()
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		r.printRow(row)
		rows = append(rows, row)
	}
	return rows, nil
}

// runOneNode runs the request-response and baseline tables in this process.
func (r *runner) runOneNode(ctx context.Context) error {
	c := r.cfg
	if c.runs(scenarioReqResp) {
		b, stopBroker, err := newLocalBroker()
		if err != nil {
			return err
		}
		err = func() error {
			const name = "bench"
			if err := b.Declare(ctx, actors.Spec{Name: name, Kind: actors.ReqResp, Strategy: c.strategy}); err != nil {
				return err
			}
			if err := serveEcho(ctx, b, name, c.handlers); err != nil {
				return err
			}
			title := fmt.Sprintf("request-response, 1 node: bourse exchange (%s, %d handler(s), %d-byte payload)", c.strategy, c.handlers, c.payload)
			rows, err := r.runTable(ctx, title, "bourse", 1, exchangeCall(c, b, name), nil)
			r.res.Rows = append(r.res.Rows, rows...)
			return err
		}()
		if serr := stopBroker(context.Background()); serr != nil {
			err = errors.Join(err, serr)
		}
		if err != nil {
			return err
		}
	}
	if c.runs(scenarioBaseline) {
		sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quietLogger() }))
		defer sys.Shutdown()
		pid := sys.Root.Spawn(echoProps())
		title := fmt.Sprintf("baseline, 1 node: protoactor RequestFuture to a local echo actor (%d-byte payload)", c.payload)
		rows, err := r.runTable(ctx, title, "raw-local", 1, rawCall(c, sys, pid), nil)
		r.res.Rows = append(r.res.Rows, rows...)
		if err != nil {
			return err
		}
	}
	return nil
}

// runThreeNodes runs the request-response table with the caller on node 1
// (this process), the exchange's authority on node 2 and the handler on node
// 3; and the baseline: RequestFuture from node 1 to an echo actor on node 3,
// and to one in this process.
func (r *runner) runThreeNodes(ctx context.Context) (err error) {
	c := r.cfg
	r.status("starting 3 nodes")
	bc, err := startCluster(ctx, 3, 16)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, bc.stop()) }()
	others := func() time.Duration { return bc.childCPU(ctx) }
	b := bc.node.Broker()
	if c.runs(scenarioReqResp) {
		name, err := bc.pickName("bench-rr", bc.addr(2))
		if err != nil {
			return err
		}
		if err := b.Declare(ctx, actors.Spec{Name: name, Kind: actors.ReqResp, Strategy: c.strategy}); err != nil {
			return err
		}
		if err := bc.each(ctx, "declare", "req-resp", name, c.strategy); err != nil {
			return err
		}
		if _, err := bc.procs[1].call(ctx, "serve", name, strconv.Itoa(c.handlers)); err != nil {
			return err
		}
		if err := awaitHandlers(ctx, b, name, c.handlers); err != nil {
			return err
		}
		title := fmt.Sprintf("request-response, 3 nodes: caller on node 1, authority on node 2, handler on node 3 (%s, %d handler(s), %d-byte payload)",
			c.strategy, c.handlers, c.payload)
		rows, err := r.runTable(ctx, title, "bourse", 3, exchangeCall(c, b, name), others)
		r.res.Rows = append(r.res.Rows, rows...)
		if err != nil {
			return err
		}
	}
	if c.runs(scenarioBaseline) {
		if _, err := bc.procs[1].call(ctx, "echo", echoActor); err != nil {
			return err
		}
		sys := b.System()
		title := fmt.Sprintf("baseline, 3 nodes: protoactor RequestFuture from node 1 to an echo actor on node 3 (%d-byte payload)", c.payload)
		rows, err := r.runTable(ctx, title, "raw-remote", 3, rawCall(c, sys, actor.NewPID(bc.addr(3), echoActor)), others)
		r.res.Rows = append(r.res.Rows, rows...)
		if err != nil {
			return err
		}
		local := sys.Root.Spawn(echoProps())
		defer sys.Root.Stop(local)
		title = fmt.Sprintf("baseline, 1 node: protoactor RequestFuture to an echo actor in the same process (%d-byte payload)", c.payload)
		rows, err = r.runTable(ctx, title, "raw-local", 1, rawCall(c, sys, local), nil)
		r.res.Rows = append(r.res.Rows, rows...)
		if err != nil {
			return err
		}
	}
	return nil
}

// awaitHandlers waits until the caller's node knows n handlers of name.
func awaitHandlers(ctx context.Context, b *actors.Broker, name string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		hs, err := b.Handlers(name)
		if err != nil {
			return err
		}
		if len(hs) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("exchange %s: node 1 sees %d handlers, want %d: %w", name, len(hs), n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
