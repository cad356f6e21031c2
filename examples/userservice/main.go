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

// run is the whole command: each step below is a function that teaches one
// thing. The deferred calls undo the steps in reverse: the callers stop,
// then the instances, then the status page, then the broker.
func run(ctx context.Context, args []string, out, errOut io.Writer) (err error) {
	duration, err := parseFlags(args, errOut)
	if err != nil {
		return err
	}
	b, err := newBroker(errOut)
	if err != nil {
		return err
	}
	defer keepFirst(&err, func() error { return stopBroker(b) })
	if err := declare(ctx, b); err != nil {
		return err
	}
	d := &demo{out: out, b: b, st: newStore(users)}
	d.tasks = &taskLog{st: d.st, b: b}
	if err := d.watch(ctx); err != nil {
		return err
	}
	defer d.endWatch()
	if err := d.subscribe(ctx); err != nil {
		return err
	}
	defer keepFirst(&err, d.stopInstances)
	if err := d.startInstances(ctx); err != nil {
		return err
	}
	d.startCallers(ctx)
	defer d.stopCallers()
	if err := d.handOver(ctx, duration); err != nil {
		return err
	}
	if err := d.settle(ctx); err != nil {
		return err
	}
	return d.report()
}

// keepFirst runs a deferred cleanup and keeps its error in *err unless
// run already failed.
func keepFirst(err *error, cleanup func() error) {
	if cerr := cleanup(); cerr != nil && *err == nil {
		*err = cerr
	}
}

// parseFlags reads the command line: -duration, how long requests flow.
func parseFlags(args []string, errOut io.Writer) (time.Duration, error) {
	fs := flag.NewFlagSet("userservice", flag.ContinueOnError)
	fs.SetOutput(errOut)
	duration := fs.Duration("duration", 4*time.Second, "how long requests flow (500ms-30s); the leader stops halfway")
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *duration < 500*time.Millisecond || *duration > 30*time.Second {
		return 0, fmt.Errorf("-duration %v: want 500ms to 30s", *duration)
	}
	return *duration, nil
}

// newBroker teaches that a process has one broker, which logs where it is
// told to.
func newBroker(errOut io.Writer) (*actors.Broker, error) {
	// protoactor logs at info level; warnings and errors are enough here.
	return actors.New(actors.WithLogger(slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))))
}

// stopBroker stops the broker, within 10 s: its services, subscriptions
// and exchanges end.
func stopBroker(b *actors.Broker) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.Stop(ctx)
}

// declare teaches the two kinds of exchange: "users" takes requests and
// hands each to one instance in turn (round-robin), "profile-updates"
// delivers each publication to every subscriber whose pattern matches.
func declare(ctx context.Context, b *actors.Broker) error {
	if err := b.Declare(ctx, actors.Spec{Name: exUsers, Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		return err
	}
	return b.Declare(ctx, actors.Spec{Name: exUpdates, Kind: actors.PubSub})
}

// demo is what the steps share.
type demo struct {
	out   io.Writer
	b     *actors.Broker
	st    *store
	tasks *taskLog
	c     counters
	phase atomic.Int32 // 0 before the leader stops, 1 while it stops, 2 after

	page      *statusPage
	stopWatch context.CancelFunc

	ins           []*instance // the instances serving
	leader        *instance   // the first leader, stopped halfway
	first, second taskRun     // the task's runs, before and after

	quit     chan struct{} // closed to stop the callers
	quitOnce sync.Once
	callers  sync.WaitGroup
}

// watch teaches that following the leader needs no handler: the status
// page watches from the start, before any instance leads.
func (d *demo) watch(ctx context.Context) error {
	watch, stopWatch := context.WithCancel(ctx)
	page, err := watchLeaders(watch, d.b)
	if err != nil {
		stopWatch()
		return err
	}
	d.page, d.stopWatch = page, stopWatch
	return nil
}

// endWatch stops the status page's watch and waits until it has ended.
func (d *demo) endWatch() {
	d.stopWatch()
	<-d.page.done
}

// subscribe teaches patterns: the search index takes every update
// ("profiles.#"), the mailer only e-mail changes ("profiles.*.email").
func (d *demo) subscribe(ctx context.Context) error {
	if _, err := d.b.SubscribeFunc(ctx, exUpdates, "profiles.#", func(*actors.Publication) { d.c.indexed.Add(1) }); err != nil {
		return err
	}
	_, err := d.b.SubscribeFunc(ctx, exUpdates, "profiles.*.email", func(*actors.Publication) { d.c.mailed.Add(1) })
	return err
}

// startInstances teaches leadership: the instances connect one after the
// other, so the first is the oldest handler and the exchange's leader, and
// OnLeader starts the background task there.
func (d *demo) startInstances(ctx context.Context) error {
	for i := range instances {
		in := &instance{name: fmt.Sprintf("users-%d", i+1), b: d.b, st: d.st, phase: &d.phase, tasks: d.tasks}
		svc, err := d.b.Serve(ctx, exUsers, in, actors.OnLeader(in.onLeader),
			actors.WithConnectOptions(actors.Options(map[string]string{"instance": in.name})))
		if err != nil {
			return err
		}
		in.svc = svc
		d.ins = append(d.ins, in)
	}
	first, err := awaitRun(ctx, d.tasks, 1)
	if err != nil {
		return err
	}
	d.first = first
	fmt.Fprintf(d.out, "users: %d instances serve %q (round-robin); the leader, %s, runs the verification task\n", instances, exUsers, first.owner)
	return nil
}

// stopInstances stops the instances still serving, each within 5 s, and
// returns the first error.
func (d *demo) stopInstances() (err error) {
	for _, in := range d.ins {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if serr := in.stop(sctx); serr != nil && err == nil {
			err = serr
		}
		cancel()
	}
	return err
}

// startCallers starts the callers, which read and update profiles until
// stopCallers. A caller finishes the request it is in when told to stop,
// so that every update a handler applied is counted.
func (d *demo) startCallers(ctx context.Context) {
	d.quit = make(chan struct{})
	for i := range callers {
		d.callers.Add(1)
		go func() {
			defer d.callers.Done()
			call(ctx, d.quit, d.b, &d.c, uint64(i+1))
		}()
	}
}

// stopCallers stops the callers and waits for them; it is idempotent.
func (d *demo) stopCallers() {
	d.quitOnce.Do(func() { close(d.quit) })
	d.callers.Wait()
}

// handOver teaches a graceful handover: halfway through, the leader
// instance stops while requests flow; the exchange appoints the next
// oldest, and the task moves there. The callers stop at the end.
func (d *demo) handOver(ctx context.Context, duration time.Duration) error {
	if err := sleep(ctx, duration/2); err != nil {
		return err
	}
	for _, in := range d.ins {
		if in.name == d.first.owner {
			d.leader = in
		}
	}
	d.phase.Store(1)
	stoppedAt := time.Now()
	if err := d.leader.stop(ctx); err != nil {
		return err
	}
	d.ins = slices.DeleteFunc(d.ins, func(in *instance) bool { return in == d.leader })
	d.phase.Store(2)
	second, err := awaitRun(ctx, d.tasks, 2)
	if err != nil {
		return err
	}
	d.second = second
	fmt.Fprintf(d.out, "leader: stopped %s gracefully; %s leads now and runs the task, started %s after the stop\n",
		d.leader.name, second.owner, second.started.Sub(stoppedAt).Round(10*time.Microsecond))
	if err := sleep(ctx, duration/2); err != nil {
		return err
	}
	d.stopCallers()
	return nil
}

// settle lets the task verify what is left and the subscribers catch up
// (publications are not awaited), then ends the status page's watch.
func (d *demo) settle(ctx context.Context) error {
	deadline := time.Now().Add(settleTimeout)
	runs, _ := d.tasks.snapshot()
	for (d.st.pending() > 0 || d.c.indexed.Load() < expectedIndexed(&d.c, runs)) && time.Now().Before(deadline) {
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
		runs, _ = d.tasks.snapshot()
	}
	d.endWatch()
	return nil
}

// report prints what happened and checks the invariants: an error names
// those that failed.
func (d *demo) report() error {
	res := report(d.out, &d.c, d.ins, d.leader, d.tasks, d.st)
	res = append(res, d.page.report(d.out, d.first.owner, d.second.owner)...)
	if len(res) > 0 {
		fmt.Fprintf(d.out, "invariants: %d FAILED\n", len(res))
		for _, f := range res {
			fmt.Fprintln(d.out, "  "+f)
		}
		return errors.New("invariants failed: " + strings.Join(res, "; "))
	}
	fmt.Fprintln(d.out, "invariants: ok")
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
// updates of e-mail, name and documents. It teaches a request with a
// deadline of its own, and that a reply is checked before it is trusted.
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
		req, id, field := newRequest(rng, n)
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		reply, err := b.Request(rctx, exUsers, req)
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
		c.count(field)
	}
}

// newRequest draws the n-th request of a caller: a read of a random user's
// profile (field ""), or an update of its "email", "name" or "docs".
func newRequest(rng *rand.Rand, n int) (req *structpb.Struct, id, field string) {
	id = fmt.Sprintf("u%d", 1+rng.IntN(users))
	fields := map[string]*structpb.Value{"op": structpb.NewStringValue("get"), "id": structpb.NewStringValue(id)}
	switch r := rng.IntN(100); {
	case r < 10:
		field = "email"
		fields["value"] = structpb.NewStringValue(fmt.Sprintf("%s+%d@example.com", id, n))
	case r < 17:
		field = "name"
		fields["value"] = structpb.NewStringValue(fmt.Sprintf("user %s (%d)", id, n))
	case r < 20:
		field = "docs"
	}
	if field != "" {
		fields["op"], fields["field"] = structpb.NewStringValue("update"), structpb.NewStringValue(field)
	}
	return &structpb.Struct{Fields: fields}, id, field
}

// count counts a successful request: a read when field is "", an update
// of field otherwise.
func (c *counters) count(field string) {
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
	k := &checks{out: out}
	k.shares(0, append([]*instance{stopped}, ins...))
	k.shares(2, ins)
	k.requests(c)
	runs, leaders := tl.snapshot()
	k.updates(c, runs)
	k.task(tl, runs, leaders, stopped)
	if p := st.pending(); p > 0 {
		k.failf("%d uploaded documents never verified", p)
	}
	return k.fails
}

// checks prints the report's lines and collects the invariants that
// failed.
type checks struct {
	out   io.Writer
	fails []string
}

func (k *checks) failf(format string, args ...any) {
	k.fails = append(k.fails, fmt.Sprintf(format, args...))
}

// shares checks round-robin: in each phase the instances' shares differ
// by at most the requests in flight at the phase's edges (one per caller).
func (k *checks) shares(ph int, list []*instance) {
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
	fmt.Fprintf(k.out, "requests while %d instances served: %d (%s)\n", len(list), total, strings.Join(parts, ", "))
	if hi-lo > callers {
		k.failf("round-robin: shares %d to %d while %d instances served, want within %d", lo, hi, len(list), callers)
	}
	if total == 0 {
		k.failf("no request while %d instances served", len(list))
	}
}

// requests checks that no request failed, the leader's stop included.
func (k *checks) requests(c *counters) {
	fmt.Fprintf(k.out, "callers: %d reads, %d updates (%d e-mail, %d documents); failed requests: %d\n",
		c.reads.Load(), c.updates.Load(), c.emails.Load(), c.docs.Load(), c.failed.Load())
	if n := c.failed.Load(); n > 0 {
		k.failf("%d requests failed, first: %v", n, c.firstErr.Load())
	}
}

// updates checks that each subscriber got every publication its pattern
// matches: one per update and one per verified profile.
func (k *checks) updates(c *counters, runs []taskRun) {
	var verified int64
	for _, r := range runs {
		verified += int64(r.checked)
	}
	fmt.Fprintf(k.out, "updates: %d published on %q; search index got %d (profiles.#), mailer %d (profiles.*.email)\n",
		c.updates.Load()+verified, exUpdates, c.indexed.Load(), c.mailed.Load())
	if want := c.updates.Load() + verified; c.indexed.Load() != want {
		k.failf("search index got %d publications, want %d", c.indexed.Load(), want)
	}
	if c.mailed.Load() != c.emails.Load() {
		k.failf("mailer got %d publications, want %d", c.mailed.Load(), c.emails.Load())
	}
}

// task checks that the background task ran in one copy at a time: on the
// first leader, then on one other instance, with no overlap.
func (k *checks) task(tl *taskLog, runs []taskRun, leaders []string, stopped *instance) {
	var parts []string
	for _, r := range runs {
		parts = append(parts, fmt.Sprintf("%s (%d sweeps, %d profiles verified)", r.owner, r.sweeps, r.checked))
	}
	gap := time.Duration(0)
	if len(runs) == 2 {
		gap = runs[1].started.Sub(runs[0].ended)
	}
	fmt.Fprintf(k.out, "task: ran on %s; copies at once: at most %d; gap between copies %s; leader changes: %d\n",
		strings.Join(parts, ", then "), 1+tl.overlap.Load(), gap.Round(10*time.Microsecond), len(leaders)-1)
	switch {
	case tl.overlap.Load() > 0:
		k.failf("%d times a task copy started while another ran", tl.overlap.Load())
	case len(runs) != 2:
		k.failf("the task ran %d times, want twice (before and after the leader stopped)", len(runs))
	case runs[0].owner != stopped.name || runs[1].owner == stopped.name:
		k.failf("the task ran on %s then %s, want %s then another", runs[0].owner, runs[1].owner, stopped.name)
	case runs[0].ended.IsZero() || !runs[1].ended.IsZero():
		k.failf("the first run should have ended and the second still run")
	case gap < 0:
		k.failf("the second copy started %v before the first ended", -gap)
	}
	if len(leaders) != 2 || leaders[0] != stopped.name {
		k.failf("leaders %v, want %s then one other", leaders, stopped.name)
	}
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
