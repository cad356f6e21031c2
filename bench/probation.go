package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"google.golang.org/protobuf/proto"
)

// The probation scenarios (issue 14, item 2), on 3 nodes with 4 handlers of
// a round-robin exchange: one on node 1 (the callers' node), two on node 2,
// one on node 3. The odd one is node 2's first.
//
//   - slow-handler: the odd handler takes 100 ms per request (-slowh-delay).
//     The callers' deadline (-slowh-deadline, 50 ms) is below that, so its
//     requests time out and count as failures, as they would for a caller
//     that cannot wait for it. The same load runs on two clusters, node 1's
//     probation off, then on; p50/p99 of every request (a failed one counts
//     at the time it failed, its deadline).
//   - flapping-handler: the odd handler stops answering (it drops every
//     request and probe, as a hung process would) for -flap-down (10 s),
//     then answers again. Node 1's WatchHealth events give the timeline of
//     its ejection, probes and readmission. The callers' deadline
//     (-flap-deadline, 250 ms) is above what healthy handlers take on a
//     loaded machine, so that they are not ejected instead; the events
//     say whose they are.

const (
	probExchange = "bench-probation"
	// oddTag is the connection tag of the slow or flapping handler.
	oddTag = "odd"
	// flapActor is the odd handler's actor name on node 2.
	flapActor = "bench-flap"
)

// ProbationRow is one run of slow-handler.
type ProbationRow struct {
	Probation  bool    `json:"probation"`
	Requests   int64   `json:"requests"`
	Failed     int64   `json:"failed"` // timed out, mostly
	Seconds    float64 `json:"seconds"`
	Latency    Latency `json:"latency"` // every request, a failed one at the time it failed
	Ejections  uint64  `json:"ejections"`
	Readmitted uint64  `json:"readmissions"`
	// OddEjections are the slow handler's ejections (including failed
	// probes); OtherEjections those of the 3 others, which a loaded
	// machine can make miss the deadline too.
	OddEjections   int `json:"odd_ejections"`
	OtherEjections int `json:"other_ejections"`
}

// FlapEvent is one WatchHealth event of flapping-handler, its time from the
// moment the handler stopped answering.
type FlapEvent struct {
	Seconds    float64 `json:"seconds"`
	Type       string  `json:"type"`
	Ejections  int     `json:"ejections"`
	OutFor     float64 `json:"out_for_seconds,omitempty"` // the back-off it was given
	Failures   int     `json:"failures,omitempty"`
	Unanswered int64   `json:"requests_unanswered_before"` // the callers' failures before this event
	// Handler is "the odd one" (the flapping handler) or "another (node)":
	// on a loaded machine a healthy handler can miss the deadline too.
	Handler string `json:"handler"`
}

// FlapResult is the flapping-handler run.
type FlapResult struct {
	DownSeconds float64     `json:"down_seconds"`
	Events      []FlapEvent `json:"events"`
	Requests    int64       `json:"requests"`
	Failed      int64       `json:"failed"`
}

// probCluster starts the scenarios' 3 nodes, node 1 with probation cfg,
// and connects the 4 handlers. odd is the odd handler's command on node 2.
func (r *runner) probCluster(ctx context.Context, pc actors.ProbationConfig, odd ...string) (*benchCluster, error) {
	bc, err := startCluster(ctx, 3, 16, func(c *cluster.Config) { c.Exchange.Probation = pc })
	if err != nil {
		return bc, err
	}
	b := bc.node.Broker()
	if err := b.Declare(ctx, actors.Spec{Name: probExchange, Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		return bc, err
	}
	if err := bc.each(ctx, "declare", "req-resp", probExchange, "round-robin"); err != nil {
		return bc, err
	}
	if _, err := bc.procs[0].call(ctx, odd[0], append([]string{probExchange}, odd[1:]...)...); err != nil {
		return bc, err
	}
	if _, err := bc.procs[0].call(ctx, "serve", probExchange, "1"); err != nil {
		return bc, err
	}
	if _, err := bc.procs[1].call(ctx, "serve", probExchange, "1"); err != nil {
		return bc, err
	}
	if err := serveEcho(ctx, b, probExchange, 1); err != nil {
		return bc, err
	}
	return bc, awaitHandlers(ctx, b, probExchange, 4)
}

// load runs callers goroutines making requests with deadline until ctx
// ends, recording every request's latency (a failed one at the time it
// failed).
type load struct {
	mu               sync.Mutex
	hist             *hdrhistogram.Histogram
	requests, failed atomic.Int64
}

func (l *load) latency() Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return latencyOf(l.hist)
}

func runLoad(ctx context.Context, b *actors.Broker, callers int, deadline time.Duration) *load {
	l := &load{hist: newHist()}
	payload := newPayload(16)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				_, err := b.Request(context.Background(), probExchange, payload, actors.WithTimeout(deadline))
				d := time.Since(t0)
				if ctx.Err() != nil {
					return // the run ended meanwhile: not counted
				}
				l.requests.Add(1)
				if err != nil {
					l.failed.Add(1)
				}
				l.mu.Lock()
				_ = l.hist.RecordValue(min(max(d.Nanoseconds(), histMin), histMax)) // clamped into range
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// handlerNames maps name's connection ids to "the odd one" or "another
// (node)", for the health events.
func handlerNames(b *actors.Broker) map[string]string {
	out := map[string]string{}
	hs, _ := b.Handlers(probExchange)
	for _, h := range hs {
		if h.GetConnTag() == oddTag {
			out[h.GetId()] = "the odd one"
		} else {
			out[h.GetId()] = "another (" + h.GetNode() + ")"
		}
	}
	return out
}

// runSlowHandler runs slow-handler with probation off, then on.
func (r *runner) runSlowHandler(ctx context.Context) error {
	c := r.cfg
	var errs []error
	for _, mode := range c.slowhModes {
		if ctx.Err() != nil {
			break
		}
		row, err := r.slowHandlerRun(ctx, mode == "on")
		if row != nil {
			r.res.SlowHandler = append(r.res.SlowHandler, *row)
		}
		errs = append(errs, err)
	}
	if rs := r.res.SlowHandler; len(rs) == 2 && !rs[0].Probation && rs[1].Probation {
		off, on := rs[0], rs[1]
		fmt.Fprintf(r.out, "slow-handler: p99 %s with probation, %s without (%s deadline, handler delay %s); failed %d of %d with, %d of %d without\n",
			fmtMicros(on.Latency.P99), fmtMicros(off.Latency.P99), c.slowhDeadline, c.slowhDelay, on.Failed, on.Requests, off.Failed, off.Requests)
	}
	return errors.Join(errs...)
}

func (r *runner) slowHandlerRun(ctx context.Context, on bool) (_ *ProbationRow, err error) {
	c := r.cfg
	pc := actors.ProbationConfig{}
	mode := "on (defaults: 5 failures in a row, 5 s doubling, 10 s ramp)"
	if !on {
		pc.Failures = actors.ProbationOff
		mode = "off"
	}
	r.section(fmt.Sprintf("slow handler: 4 handlers over 3 nodes, round-robin, one takes %v; %d callers on node 1 with a %v deadline for %v; probation %s",
		c.slowhDelay, c.slowhCallers, c.slowhDeadline, c.slowhDuration, mode))
	r.status("slow-handler: starting 3 nodes")
	bc, err := r.probCluster(ctx, pc, "serveslow", strconv.Itoa(int(c.slowhDelay.Milliseconds())))
	defer func() { err = errors.Join(err, bc.stop()) }()
	if err != nil {
		return nil, err
	}
	b := bc.node.Broker()
	names := handlerNames(b)
	runCtx, cancel := context.WithTimeout(ctx, c.slowhDuration)
	defer cancel()
	events, err := b.WatchHealth(runCtx, probExchange)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	l := runLoad(runCtx, b, c.slowhCallers, c.slowhDeadline)
	odd, other := 0, 0
	for ev := range events { // closed when runCtx ends
		if ev.Type == actors.Readmitted {
			continue
		}
		if names[ev.Handler] == "the odd one" {
			odd++
		} else {
			other++
		}
	}
	time.Sleep(c.slowhDeadline) // the last requests end
	st, _ := b.Stats(probExchange)
	row := &ProbationRow{Probation: on, Requests: l.requests.Load(), Failed: l.failed.Load(), Seconds: time.Since(start).Seconds(),
		Latency: l.latency(), Ejections: st.Health.Ejections, Readmitted: st.Health.Readmissions, OddEjections: odd, OtherEjections: other}
	fmt.Fprintf(r.out, "probation %-3s  %d requests, %d failed (%.1f%%)  p50 %s p99 %s p99.9 %s  ejections %d (the slow handler's, failed probes included: %d; the others': %d), readmissions %d\n",
		map[bool]string{true: "on", false: "off"}[on], row.Requests, row.Failed, 100*float64(row.Failed)/float64(max(1, row.Requests)),
		fmtMicros(row.Latency.P50), fmtMicros(row.Latency.P99), fmtMicros(row.Latency.P999), row.Ejections, odd, other, row.Readmitted)
	return row, nil
}

// runFlapping runs flapping-handler.
func (r *runner) runFlapping(ctx context.Context) (err error) {
	c := r.cfg
	pc := actors.ProbationConfig{Eject: c.flapEject}
	eject := c.flapEject
	if eject == 0 {
		eject = 5 * time.Second // actors.ProbationConfig's default
	}
	r.section(fmt.Sprintf("flapping handler: 4 handlers over 3 nodes, round-robin; node 2's first stops answering for %v, then answers; %d callers on node 1 with a %v deadline; probation: 5 failures in a row, %v doubling, probe timeout 1 s",
		c.flapDown, c.slowhCallers, c.flapDeadline, eject))
	r.status("flapping-handler: starting 3 nodes")
	bc, err := r.probCluster(ctx, pc, "serveflap", flapActor)
	defer func() { err = errors.Join(err, bc.stop()) }()
	if err != nil {
		return err
	}
	b := bc.node.Broker()
	names := handlerNames(b)
	events, err := b.WatchHealth(ctx, probExchange)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := runLoad(runCtx, b, c.slowhCallers, c.flapDeadline)
	time.Sleep(time.Second) // all in rotation
	res := &FlapResult{DownSeconds: c.flapDown.Seconds()}
	r.res.Flapping = res
	if _, err := bc.procs[0].call(ctx, "flap", flapActor, "silent"); err != nil {
		return err
	}
	down := time.Now()
	up := time.NewTimer(c.flapDown)
	defer up.Stop()
	limit := time.NewTimer(c.flapDown + 2*time.Minute)
	defer limit.Stop()
	fmt.Fprintf(r.out, "  %7.2fs  handler stops answering\n", 0.0)
	for {
		select {
		case <-up.C:
			if _, err := bc.procs[0].call(ctx, "flap", flapActor, "answer"); err != nil {
				return err
			}
			fmt.Fprintf(r.out, "  %7.2fs  handler answers again\n", time.Since(down).Seconds())
		case ev, ok := <-events:
			if !ok {
				return errors.New("flapping-handler: health events closed")
			}
			fe := FlapEvent{Seconds: ev.At.Sub(down).Seconds(), Type: ev.Type.String(), Ejections: ev.Ejections, Failures: ev.Failures,
				Unanswered: l.failed.Load(), Handler: names[ev.Handler]}
			if ev.Type != actors.Readmitted {
				fe.OutFor = ev.Until.Sub(ev.At).Seconds()
			}
			res.Events = append(res.Events, fe)
			line := fmt.Sprintf("  %7.2fs  %-12s %s, ejections %d", fe.Seconds, fe.Type, fe.Handler, fe.Ejections)
			switch ev.Type {
			case actors.Ejected:
				line += fmt.Sprintf(" after %d failures in a row, out for %.1fs (probe at %.2fs)", ev.Failures, fe.OutFor, ev.Until.Sub(down).Seconds())
			case actors.ProbeFailed:
				line += fmt.Sprintf(", probe unanswered: out for %.1fs more (next probe at %.2fs)", fe.OutFor, ev.Until.Sub(down).Seconds())
			case actors.Readmitted:
				line += ": probe answered, back in rotation, share ramping up"
			}
			fmt.Fprintf(r.out, "%s  (callers' failed requests so far: %d)\n", line, fe.Unanswered)
			if ev.Type == actors.Readmitted && fe.Handler == "the odd one" && time.Since(down) > c.flapDown {
				cancel()
				time.Sleep(c.flapDeadline)
				res.Requests, res.Failed = l.requests.Load(), l.failed.Load()
				fmt.Fprintf(r.out, "  %d requests, %d failed (%.2f%%) over the run\n", res.Requests, res.Failed, 100*float64(res.Failed)/float64(max(1, res.Requests)))
				return nil
			}
		case <-limit.C:
			return fmt.Errorf("flapping-handler: not readmitted %v after it answered again", 2*time.Minute)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// serveSlow connects one handler that takes delay per request.
func serveSlow(ctx context.Context, b *actors.Broker, name string, delay time.Duration) error {
	_, err := b.Serve(ctx, name, actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		time.Sleep(delay)
		return r.Payload, nil
	}), actors.WithConnectOptions(actors.ConnTag(oddTag)))
	return err
}

// flapper is a handler actor that drops every request, probes included,
// while silent, and echoes otherwise.
type flapper struct{ silent *atomic.Bool }

func (f flapper) Receive(c actor.Context) {
	if req, ok := c.Message().(*actors.Request); ok && !f.silent.Load() {
		req.Respond(req.Payload)
	}
}

// serveFlap spawns the flapping handler as actor id and connects it.
func serveFlap(ctx context.Context, b *actors.Broker, name, id string, silent *atomic.Bool) error {
	pid, err := b.System().Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return flapper{silent: silent} },
		actor.WithDispatcher(b.Dispatcher())), id)
	if err != nil {
		return err
	}
	_, err = b.Connect(ctx, name, pid, actors.ConnTag(oddTag))
	return err
}
