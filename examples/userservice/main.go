// Command userservice is the user-profile service of the seed (seed 002):
//
//   - profile reads and updates are requests to the req-resp exchange
//     "users", served by 5 instances of the service in turn (round-robin);
//   - every update is published on the pub-sub exchange "profile-updates"
//     under profiles.<id>.<field>, and subscribers get the keys they match:
//     a search index takes "profiles.#", a mailer "profiles.*.email";
//   - a background task (verifying uploaded documents) runs in exactly one
//     copy: on the instance the exchange names leader, started and stopped
//     from OnLeader;
//   - a status page, which is no handler, follows the leader with
//     WatchLeader.
//
// Halfway through, the leader instance stops gracefully: the exchange
// appoints the next oldest instance, and the task moves there. The command
// prints a report and exits 1 if an invariant fails. Everything runs in one
// process; the same code runs across a cluster (see examples/trading).
//
//	go run ./examples/userservice -duration 4s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/types/known/structpb"
)

// Sizes of the run, and its waits.
const (
	instances      = 5
	callers        = 4
	callEvery      = 2 * time.Millisecond // per caller: 2,000 requests/s in all, light on a shared machine
	users          = 200
	requestTimeout = 2 * time.Second
	settleTimeout  = 3 * time.Second
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "userservice:", err)
		}
		os.Exit(1)
	}
}

// counters of the callers and subscribers.
type counters struct {
	reads, updates, emails, docs, failed atomic.Int64
	indexed, mailed                      atomic.Int64
	firstErr                             atomic.Value // error
}

func run(ctx context.Context, args []string, out, errOut io.Writer) (err error) {
	fs := flag.NewFlagSet("userservice", flag.ContinueOnError)
	fs.SetOutput(errOut)
	duration := fs.Duration("duration", 4*time.Second, "how long requests flow (500ms-30s); the leader stops halfway")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *duration < 500*time.Millisecond || *duration > 30*time.Second {
		return fmt.Errorf("-duration %v: want 500ms to 30s", *duration)
	}

	// protoactor logs at info level; warnings and errors are enough here.
	b, err := actors.New(actors.WithLogger(slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := b.Stop(sctx); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := b.Declare(ctx, actors.Spec{Name: exUsers, Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		return err
	}
	if err := b.Declare(ctx, actors.Spec{Name: exUpdates, Kind: actors.PubSub}); err != nil {
		return err
	}
	// The status page watches from the start, before any instance leads.
	watch, stopWatch := context.WithCancel(ctx)
	page, err := watchLeaders(watch, b)
	if err != nil {
		stopWatch()
		return err
	}
	defer func() { stopWatch(); <-page.done }()
	var c counters
	if _, err := b.SubscribeFunc(ctx, exUpdates, "profiles.#", func(*actors.Publication) { c.indexed.Add(1) }); err != nil {
		return err
	}
	if _, err := b.SubscribeFunc(ctx, exUpdates, "profiles.*.email", func(*actors.Publication) { c.mailed.Add(1) }); err != nil {
		return err
	}

	// The instances connect one after the other: the first is the oldest
	// handler, the exchange's leader.
	st := newStore(users)
	var phase atomic.Int32
	tasks := &taskLog{st: st, b: b}
	var ins []*instance
	defer func() {
		for _, in := range ins {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if serr := in.stop(sctx); serr != nil && err == nil {
				err = serr
			}
			cancel()
		}
	}()
	for i := range instances {
		in := &instance{name: fmt.Sprintf("users-%d", i+1), b: b, st: st, phase: &phase, tasks: tasks}
		svc, err := b.Serve(ctx, exUsers, in, actors.OnLeader(in.onLeader),
			actors.WithConnectOptions(actors.Options(map[string]string{"instance": in.name})))
		if err != nil {
			return err
		}
		in.svc = svc
		ins = append(ins, in)
	}
	first, err := awaitRun(ctx, tasks, 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "users: %d instances serve %q (round-robin); the leader, %s, runs the verification task\n", instances, exUsers, first.owner)

	// Callers read and update profiles throughout; halfway, the leader
	// instance stops.
	// Callers finish the request they are in when told to stop, so that
	// every update a handler applied is counted.
	quit := make(chan struct{})
	var quitOnce sync.Once
	stopCallers := func() { quitOnce.Do(func() { close(quit) }) }
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call(ctx, quit, b, &c, uint64(i+1))
		}()
	}
	defer func() { stopCallers(); wg.Wait() }()
	if err := sleep(ctx, *duration/2); err != nil {
		return err
	}
	var leader *instance
	for _, in := range ins {
		if in.name == first.owner {
			leader = in
		}
	}
	phase.Store(1)
	stoppedAt := time.Now()
	if err := leader.stop(ctx); err != nil {
		return err
	}
	ins = slices.DeleteFunc(ins, func(in *instance) bool { return in == leader })
	phase.Store(2)
	second, err := awaitRun(ctx, tasks, 2)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "leader: stopped %s gracefully; %s leads now and runs the task, started %s after the stop\n",
		leader.name, second.owner, second.started.Sub(stoppedAt).Round(10*time.Microsecond))
	if err := sleep(ctx, *duration/2); err != nil {
		return err
	}
	stopCallers()
	wg.Wait()

	// Let the task verify what is left, and the subscribers catch up.
	deadline := time.Now().Add(settleTimeout)
	runs, _ := tasks.snapshot()
	for (st.pending() > 0 || c.indexed.Load() < expectedIndexed(&c, runs)) && time.Now().Before(deadline) {
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
		runs, _ = tasks.snapshot()
	}
	stopWatch()
	<-page.done
	res := report(out, &c, ins, leader, tasks, st)
	res = append(res, page.report(out, first.owner, second.owner)...)
	if len(res) > 0 {
		fmt.Fprintf(out, "invariants: %d FAILED\n", len(res))
		for _, f := range res {
			fmt.Fprintln(out, "  "+f)
		}
		return errors.New("invariants failed: " + strings.Join(res, "; "))
	}
	fmt.Fprintln(out, "invariants: ok")
	return nil
}

// statusPage follows the leader of "users" without being a handler: it
// records each instance the exchange names leader, in order.
type statusPage struct {
	leaders []string      // written by the watching goroutine until done
	done    chan struct{} // closed when the watch has ended
}

// watchLeaders starts a status page; it stops when ctx ends.
func watchLeaders(ctx context.Context, b *actors.Broker) (*statusPage, error) {
	changes, err := b.WatchLeader(ctx, exUsers)
	if err != nil {
		return nil, err
	}
	p := &statusPage{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for c := range changes { // closed when ctx ends
			if c.Leader == nil {
				continue // between two leaders, or none yet
			}
			name := c.Leader.GetOptions()["instance"]
			if n := len(p.leaders); n == 0 || p.leaders[n-1] != name {
				p.leaders = append(p.leaders, name)
			}
		}
	}()
	return p, nil
}

// report prints what the page saw, once its watch has ended, and returns
// the invariants that failed.
func (p *statusPage) report(out io.Writer, first, second string) []string {
	fmt.Fprintf(out, "status page (no handler, WatchLeader): leaders seen %s\n", strings.Join(p.leaders, ", then "))
	if !slices.Equal(p.leaders, []string{first, second}) {
		return []string{fmt.Sprintf("status page saw leaders %v, want %s then %s", p.leaders, first, second)}
	}
	return nil
}

// call sends requests until quit is closed or ctx ends: 80% reads, then
// updates of e-mail, name and documents.
func call(ctx context.Context, quit <-chan struct{}, b *actors.Broker, c *counters, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	tick := time.NewTicker(callEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-quit:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		id := fmt.Sprintf("u%d", 1+rng.IntN(users))
		req := map[string]*structpb.Value{"op": structpb.NewStringValue("get"), "id": structpb.NewStringValue(id)}
		field := ""
		switch r := rng.IntN(100); {
		case r < 10:
			field = "email"
			req["value"] = structpb.NewStringValue(fmt.Sprintf("%s+%d@example.com", id, n))
		case r < 17:
			field = "name"
			req["value"] = structpb.NewStringValue(fmt.Sprintf("user %s (%d)", id, n))
		case r < 20:
			field = "docs"
		}
		if field != "" {
			req["op"], req["field"] = structpb.NewStringValue("update"), structpb.NewStringValue(field)
		}
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		reply, err := b.Request(rctx, exUsers, &structpb.Struct{Fields: req})
		cancel()
		if ctx.Err() != nil {
			return // interrupted: the run fails anyway
		}
		if p, ok := reply.(*structpb.Struct); err == nil && (!ok || p.GetFields()["id"].GetStringValue() != id) {
			err = fmt.Errorf("reply for %s: %v", id, reply)
		}
		if err != nil {
			c.failed.Add(1)
			c.firstErr.CompareAndSwap(nil, err)
			continue
		}
		switch field {
		case "":
			c.reads.Add(1)
		case "email":
			c.updates.Add(1)
			c.emails.Add(1)
		case "docs":
			c.updates.Add(1)
			c.docs.Add(1)
		default:
			c.updates.Add(1)
		}
	}
}

// expectedIndexed is how many publications the search index should have:
// one per update and one per verified profile.
func expectedIndexed(c *counters, runs []taskRun) int64 {
	n := c.updates.Load()
	for _, r := range runs {
		n += int64(r.checked)
	}
	return n
}

// awaitRun waits until the task has started its n-th run, and returns it.
func awaitRun(ctx context.Context, tl *taskLog, n int) (taskRun, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		if runs, _ := tl.snapshot(); len(runs) >= n {
			return runs[n-1], nil
		}
		if time.Now().After(deadline) {
			return taskRun{}, fmt.Errorf("the background task did not start run %d within %v", n, settleTimeout)
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return taskRun{}, err
		}
	}
}

// report prints the figures and returns the invariants that failed.
func report(out io.Writer, c *counters, ins []*instance, stopped *instance, tl *taskLog, st *store) []string {
	var fails []string
	failf := func(format string, args ...any) { fails = append(fails, fmt.Sprintf(format, args...)) }

	// Round-robin: in each phase the instances' shares differ by at most
	// the requests in flight at the phase's edges (one per caller).
	share := func(ph int, list []*instance) {
		var parts []string
		var total, lo, hi int64 = 0, -1, 0
		for _, in := range list {
			n := in.served[ph].Load()
			total += n
			parts = append(parts, fmt.Sprintf("%s %d", in.name, n))
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
		fmt.Fprintf(out, "requests while %d instances served: %d (%s)\n", len(list), total, strings.Join(parts, ", "))
		if hi-lo > callers {
			failf("round-robin: shares %d to %d while %d instances served, want within %d", lo, hi, len(list), callers)
		}
		if total == 0 {
			failf("no request while %d instances served", len(list))
		}
	}
	share(0, append([]*instance{stopped}, ins...))
	share(2, ins)

	fmt.Fprintf(out, "callers: %d reads, %d updates (%d e-mail, %d documents); failed requests: %d\n",
		c.reads.Load(), c.updates.Load(), c.emails.Load(), c.docs.Load(), c.failed.Load())
	if n := c.failed.Load(); n > 0 {
		failf("%d requests failed, first: %v", n, c.firstErr.Load())
	}

	runs, leaders := tl.snapshot()
	var verified int64
	var parts []string
	for _, r := range runs {
		verified += int64(r.checked)
		parts = append(parts, fmt.Sprintf("%s (%d sweeps, %d profiles verified)", r.owner, r.sweeps, r.checked))
	}
	fmt.Fprintf(out, "updates: %d published on %q; search index got %d (profiles.#), mailer %d (profiles.*.email)\n",
		c.updates.Load()+verified, exUpdates, c.indexed.Load(), c.mailed.Load())
	if want := c.updates.Load() + verified; c.indexed.Load() != want {
		failf("search index got %d publications, want %d", c.indexed.Load(), want)
	}
	if c.mailed.Load() != c.emails.Load() {
		failf("mailer got %d publications, want %d", c.mailed.Load(), c.emails.Load())
	}

	gap := time.Duration(0)
	if len(runs) == 2 {
		gap = runs[1].started.Sub(runs[0].ended)
	}
	fmt.Fprintf(out, "task: ran on %s; copies at once: at most %d; gap between copies %s; leader changes: %d\n",
		strings.Join(parts, ", then "), 1+tl.overlap.Load(), gap.Round(10*time.Microsecond), len(leaders)-1)
	switch {
	case tl.overlap.Load() > 0:
		failf("%d times a task copy started while another ran", tl.overlap.Load())
	case len(runs) != 2:
		failf("the task ran %d times, want twice (before and after the leader stopped)", len(runs))
	case runs[0].owner != stopped.name || runs[1].owner == stopped.name:
		failf("the task ran on %s then %s, want %s then another", runs[0].owner, runs[1].owner, stopped.name)
	case runs[0].ended.IsZero() || !runs[1].ended.IsZero():
		failf("the first run should have ended and the second still run")
	case gap < 0:
		failf("the second copy started %v before the first ended", -gap)
	}
	if len(leaders) != 2 || leaders[0] != stopped.name {
		failf("leaders %v, want %s then one other", leaders, stopped.name)
	}
	if p := st.pending(); p > 0 {
		failf("%d uploaded documents never verified", p)
	}
	return fails
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
