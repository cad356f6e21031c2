package exchange_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// probationHub starts a hub with a quick probation and exchange rr of
// strategy strat.
func probationHub(t *testing.T, strat string) (*exchange.Hub, *actor.ActorSystem) {
	t.Helper()
	sys := newSystem()
	cfg := exchange.DefaultConfig()
	cfg.Probation = exchange.ProbationConfig{Failures: 3, Eject: 200 * time.Millisecond, MaxEject: time.Second,
		Ramp: 100 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond}
	h, err := exchange.New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.Background()); err != nil {
			t.Errorf("hub stop: %v", err)
		}
		sys.Shutdown()
	})
	if err := h.Declare(testCtx(t), exchange.Spec{Name: "rr", Kind: exchange.ReqResp, Strategy: strat}); err != nil {
		t.Fatal(err)
	}
	return h, sys
}

// flaky is a handler that stops answering while silent is set (probes
// included), and answers its name otherwise.
func flaky(name string, silent *atomic.Bool) *recorder {
	r := &recorder{name: name}
	r.reply = func(req *exchange.Request) {
		if silent.Load() {
			return
		}
		if req.IsProbe() {
			req.Respond(req.Payload)
			return
		}
		req.Respond(str(name))
	}
	return r
}

// call sends one request with a short deadline and returns who answered.
func callRR(t *testing.T, h *exchange.Hub, key string) (string, error) {
	t.Helper()
	m, err := h.Request(testCtx(t), "rr", str("x"), exchange.WithTimeout(30*time.Millisecond), exchange.WithKey(key))
	if err != nil {
		return "", err
	}
	return m.(*wrapperspb.StringValue).GetValue(), nil
}

// A handler that stops answering is ejected after 3 timeouts in a row,
// gets no request while out, is probed when its ejection ends, and comes
// back when the probe is answered; each step is an event and a count.
func TestProbationEjectsProbesAndReadmits(t *testing.T) {
	h, sys := probationHub(t, "round-robin")
	var silent atomic.Bool
	bad := flaky("bad", &silent)
	pid := spawnRecorder(t, sys, bad)
	if _, err := h.Connect(testCtx(t), "rr", pid); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		connect(t, h, sys, "rr", n)
	}
	events, stop, err := h.WatchHealth("rr")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	silent.Store(true)
	timeouts := 0
	for range 40 {
		if _, err := callRR(t, h, ""); err != nil {
			timeouts++
		}
	}
	if timeouts != 3 {
		t.Errorf("%d requests timed out, want 3 (the ejection after the third)", timeouts)
	}
	ev := <-events
	if ev.Type != exchange.Ejected || ev.Failures != 3 || !exchange.IsTimeout(ev.Err) {
		t.Fatalf("event %+v, want the ejection after 3 timeouts", ev)
	}
	before := bad.count()
	for range 20 {
		if who, err := callRR(t, h, ""); err != nil || who == "bad" {
			t.Fatalf("while ejected: %q, %v", who, err)
		}
	}
	if bad.count() != before {
		t.Errorf("the ejected handler got %d requests", bad.count()-before)
	}
	// It still does not answer: the probe fails and it stays out, longer.
	time.Sleep(250 * time.Millisecond)
	_, _ = callRR(t, h, "")
	if ev = <-events; ev.Type != exchange.ProbeFailed || ev.Ejections != 2 {
		t.Fatalf("event %+v, want a failed probe and a second ejection", ev)
	}
	// It answers again: the next probe lets it back, and its share ramps up.
	silent.Store(false)
	deadline := time.Now().Add(3 * time.Second)
	for ev.Type != exchange.Readmitted && time.Now().Before(deadline) {
		_, _ = callRR(t, h, "")
		select {
		case ev = <-events:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if ev.Type != exchange.Readmitted {
		t.Fatalf("not readmitted: last event %+v", ev)
	}
	time.Sleep(150 * time.Millisecond) // past the ramp
	got := 0
	for range 40 {
		if who, _ := callRR(t, h, ""); who == "bad" {
			got++
		}
	}
	if got < 8 {
		t.Errorf("after the ramp the readmitted handler got %d of 40 requests, want its share (10)", got)
	}
	st, err := h.Stats("rr")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Health; s.Ejections != 1 || s.ProbeFailures < 1 || s.Readmissions != 1 || s.Out != 0 {
		t.Errorf("health stats %+v", s)
	}
}

// Never the last handler of a group, never more than half.
func TestProbationKeepsHalf(t *testing.T) {
	h, sys := probationHub(t, "round-robin")
	var silent atomic.Bool
	silent.Store(true)
	for _, n := range []string{"x", "y"} {
		pid := spawnRecorder(t, sys, flaky(n, &silent))
		if _, err := h.Connect(testCtx(t), "rr", pid); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		_, _ = callRR(t, h, "")
	}
	st, _ := h.Stats("rr")
	if st.Health.Out != 1 {
		t.Errorf("%d of 2 silent handlers out, want 1 (never the last)", st.Health.Out)
	}
}

// Sticky: an ejected handler's keys go elsewhere while it is out, and back
// to it once it is let back: the ring does not change.
func TestProbationStickyKeepsTheRing(t *testing.T) {
	h, sys := probationHub(t, "sticky")
	var silent atomic.Bool
	bad := flaky("bad", &silent)
	pid := spawnRecorder(t, sys, bad)
	if _, err := h.Connect(testCtx(t), "rr", pid); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		connect(t, h, sys, "rr", n)
	}
	// Keys the bad handler owns.
	var mine []string
	for i := 0; len(mine) < 3 && i < 1000; i++ {
		k := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if who, err := callRR(t, h, k); err == nil && who == "bad" {
			mine = append(mine, k)
		}
	}
	if len(mine) < 3 {
		t.Fatalf("found only %d keys of the bad handler", len(mine))
	}
	silent.Store(true)
	for range 3 {
		_, _ = callRR(t, h, mine[0])
	}
	elsewhere := map[string]string{}
	for _, k := range mine {
		who, err := callRR(t, h, k)
		if err != nil || who == "bad" {
			t.Fatalf("key %s while its owner is out: %q, %v", k, who, err)
		}
		elsewhere[k] = who
		if again, _ := callRR(t, h, k); again != who {
			t.Errorf("key %s went to %s, then %s: want one stand-in", k, who, again)
		}
	}
	silent.Store(false)
	time.Sleep(250 * time.Millisecond)
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, _ := h.Stats("rr")
		if st.Health.Readmissions == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not readmitted")
		}
		_, _ = callRR(t, h, "")
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // past the ramp
	for _, k := range mine {
		if who, _ := callRR(t, h, k); who != "bad" {
			t.Errorf("key %s went to %s after its owner came back, want bad", k, who)
		}
	}
}

// A handler that flaps: it answers, fails twice (not ejected: the
// failures must be in a row), answers, then stops answering for 1.2 s
// and recovers. The timeline of its events: ejected after exactly 3
// timeouts in a row; each probe only once the back-off it was given has
// passed, each failed probe's back-off about twice the one before (±20%
// jitter); let back by the first probe after it recovered; then never
// ejected again while it answers.
func TestProbationFlappingTimeline(t *testing.T) {
	h, sys := probationHub(t, "round-robin")
	var silent atomic.Bool
	bad := flaky("bad", &silent)
	pid := spawnRecorder(t, sys, bad)
	if _, err := h.Connect(testCtx(t), "rr", pid); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		connect(t, h, sys, "rr", n)
	}
	events, stop, err := h.WatchHealth("rr")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// Round-robin over 4 handlers: every fourth request reaches bad.
	// Two failures, then an answer: no ejection.
	silent.Store(true)
	for range 8 {
		_, _ = callRR(t, h, "")
	}
	silent.Store(false)
	for range 8 {
		if _, err := callRR(t, h, ""); err != nil {
			t.Fatalf("all answer: %v", err)
		}
	}
	if st, _ := h.Stats("rr"); st.Health.Ejections != 0 {
		t.Fatalf("ejected after failures that were not in a row: %+v", st.Health)
	}

	const down = 1200 * time.Millisecond
	silent.Store(true)
	began := time.Now()
	timeouts := 0
	var timeline []exchange.HealthEvent
	recovered := time.Time{}
	deadline := began.Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if recovered.IsZero() && time.Since(began) >= down {
			silent.Store(false)
			recovered = time.Now()
		}
		if _, err := callRR(t, h, ""); err != nil && len(timeline) == 0 {
			timeouts++
		}
		select {
		case ev := <-events:
			timeline = append(timeline, ev)
		default:
		}
		if n := len(timeline); n > 0 && timeline[n-1].Type == exchange.Readmitted {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, ev := range timeline {
		until := ""
		if ev.Type != exchange.Readmitted {
			until = fmt.Sprintf("  out until +%dms", ev.Until.Sub(began).Milliseconds())
		}
		t.Logf("%2d  +%4dms  %-12v ejections %d%s", i, ev.At.Sub(began).Milliseconds(), ev.Type, ev.Ejections, until)
	}
	if !slices.ContainsFunc(timeline, func(ev exchange.HealthEvent) bool { return ev.Type == exchange.ProbeFailed }) {
		t.Errorf("no probe failed while the handler was down")
	}
	if len(timeline) < 2 {
		t.Fatalf("timeline %v", timeline)
	}
	if ev := timeline[0]; ev.Type != exchange.Ejected || ev.Failures != 3 || timeouts != 3 {
		t.Fatalf("first event %+v after %d timeouts, want an ejection after 3", ev, timeouts)
	}
	last := timeline[len(timeline)-1]
	if last.Type != exchange.Readmitted || last.At.Before(recovered) {
		t.Fatalf("last event %v at +%v, want a readmission after the recovery at +%v", last.Type, last.At.Sub(began), recovered.Sub(began))
	}
	const slack = 5 * time.Millisecond // the clocks read on either side
	for i := 1; i < len(timeline); i++ {
		prev, ev := timeline[i-1], timeline[i]
		if ev.At.Add(slack).Before(prev.Until) {
			t.Errorf("event %d (%v) at +%v, before the back-off ended at +%v", i, ev.Type, ev.At.Sub(began), prev.Until.Sub(began))
		}
		if ev.Type == exchange.ProbeFailed {
			if !ev.At.Before(recovered.Add(100 * time.Millisecond)) {
				t.Errorf("probe %d failed at +%v, after the recovery at +%v", i, ev.At.Sub(began), recovered.Sub(began))
			}
			if ev.Ejections != prev.Ejections+1 {
				t.Errorf("probe %d: ejections %d after %d", i, ev.Ejections, prev.Ejections)
			}
			// Eject << (n-1), ±20%: the next back-off is at least 0.8*2 / 1.2 of the last.
			backoff, before := ev.Until.Sub(ev.At), prev.Until.Sub(prev.At)
			if backoff < before*4/3-slack && backoff < time.Second*8/10 {
				t.Errorf("back-off %d: %v after %v, want about twice", i, backoff, before)
			}
		}
	}
	// Back in rotation, and answering: never ejected again.
	time.Sleep(150 * time.Millisecond) // past the ramp
	for range 40 {
		if _, err := callRR(t, h, ""); err != nil {
			t.Fatalf("after the readmission: %v", err)
		}
	}
	select {
	case ev := <-events:
		t.Errorf("event after the readmission: %+v", ev)
	default:
	}
	if st, _ := h.Stats("rr"); st.Health.Ejections != 1 || st.Health.Readmissions != 1 || st.Health.Out != 0 ||
		st.Health.ProbeFailures != uint64(len(timeline)-2) {
		t.Errorf("health stats %+v, timeline of %d events", st.Health, len(timeline))
	}
}

// Never the last handler: a group of one is never ejected, however it
// fails. Never more than half: of 4 silent handlers, 2 at most are out.
func TestProbationNeverLastNorMoreThanHalf(t *testing.T) {
	for _, tc := range []struct{ handlers, maxOut int }{{1, 0}, {4, 2}, {5, 2}} {
		t.Run(strconv.Itoa(tc.handlers), func(t *testing.T) {
			h, sys := probationHub(t, "round-robin")
			var silent atomic.Bool
			silent.Store(true)
			for i := range tc.handlers {
				pid := spawnRecorder(t, sys, flaky("h"+strconv.Itoa(i), &silent))
				if _, err := h.Connect(testCtx(t), "rr", pid); err != nil {
					t.Fatal(err)
				}
			}
			for range 20 * tc.handlers {
				_, _ = callRR(t, h, "")
			}
			st, _ := h.Stats("rr")
			if st.Health.Out != tc.maxOut {
				t.Errorf("%d of %d silent handlers out, want %d", st.Health.Out, tc.handlers, tc.maxOut)
			}
		})
	}
}
