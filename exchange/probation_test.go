package exchange_test

import (
	"context"
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
