package exchange_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// callLog is a Recorder that keeps what it was told.
type callLog struct {
	mu    sync.Mutex
	calls []string // "exchange op error-or-ok"
}

func (l *callLog) Sent(name string, op exchange.Operation, d time.Duration, err error) {
	l.add(name, op, d, err)
}

func (l *callLog) Processed(name string, op exchange.Operation, d time.Duration, err error) {
	l.add(name, op, d, err)
}

func (l *callLog) add(name string, op exchange.Operation, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = exchange.CodeOf(err).String()
	}
	if d < 0 {
		outcome += " negative duration"
	}
	l.mu.Lock()
	l.calls = append(l.calls, name+" "+op.String()+" "+outcome)
	l.mu.Unlock()
}

// TestRecorderHearsEveryCall checks that Config.Recorder hears of each
// request and publication with its outcome, and the counters that the
// metrics read: Unrouted and LeaderChanges.
func TestRecorderHearsEveryCall(t *testing.T) {
	log := &callLog{}
	cfg := exchange.DefaultConfig()
	cfg.Recorder = log
	sys := newSystem()
	h, err := exchange.New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop(testCtx(t)); sys.Shutdown() })
	ctx := testCtx(t)
	if err := h.Declare(ctx, exchange.Spec{Name: "orders", Kind: exchange.ReqResp, Strategy: "round-robin"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Declare(ctx, exchange.Spec{Name: "prices", Kind: exchange.PubSub}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Request(ctx, "orders", str("x")); !errors.Is(err, exchange.ErrNoHandlers) {
		t.Fatalf("request with no handler: %v, want ErrNoHandlers", err)
	}
	connect(t, h, sys, "orders", "h1")
	if _, err := h.Request(ctx, "orders", str("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.RequestAll(ctx, "orders", str("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Publish(ctx, "prices", "a.b", str("p")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"orders request CODE_NO_HANDLERS",
		"orders request ok",
		"orders request_all ok",
		"prices publish ok",
	}
	log.mu.Lock()
	got := append([]string(nil), log.calls...)
	log.mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("recorder heard %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %q, want %q", i, got[i], want[i])
		}
	}
	ps, err := h.Stats("prices")
	if err != nil {
		t.Fatal(err)
	}
	if ps.Unrouted != 1 || ps.Published != 1 {
		t.Errorf("prices: Unrouted %d, Published %d; want 1 and 1 (nobody subscribes)", ps.Unrouted, ps.Published)
	}
	os, err := h.Stats("orders")
	if err != nil {
		t.Fatal(err)
	}
	if os.LeaderChanges != 1 {
		t.Errorf("orders: LeaderChanges %d, want 1 (none to h1)", os.LeaderChanges)
	}
}
