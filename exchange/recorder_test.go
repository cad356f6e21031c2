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

// bindingLog is a callLog that binds itself to exchanges
// (exchange.Binder), as internal/metrics' recorder does.
type bindingLog struct {
	*callLog
	mu    sync.Mutex
	bound []string
}

func (b *bindingLog) Bind(name string) exchange.ExchangeRecorder {
	b.mu.Lock()
	b.bound = append(b.bound, name)
	b.mu.Unlock()
	return boundLog{b.callLog, name}
}

type boundLog struct {
	l    *callLog
	name string
}

// Timing times every call: the test checks each call's outcome.
func (boundLog) Timing(exchange.Operation) int { return 1 }

func (b boundLog) Sent(op exchange.Operation, d time.Duration, _ int, err error) {
	b.l.add(b.name+"(bound)", op, d, err)
}

func (b boundLog) Processed(op exchange.Operation, d time.Duration, _ int, err error) {
	b.l.add(b.name+"(bound)", op, d, err)
}

func (b boundLog) Untimed(op exchange.Operation, err error) { b.l.add(b.name+"(bound)", op, 0, err) }

// TestRecorderHearsEveryCall checks that Config.Recorder hears of each
// request and publication with its outcome, through the binding of its
// exchange when it binds (exchange.Binder), by name when not or before the
// call found its exchange; and the counters that the metrics read:
// Unrouted and LeaderChanges.
func TestRecorderHearsEveryCall(t *testing.T) {
	t.Run("by name", func(t *testing.T) { testRecorderHearsEveryCall(t, false) })
	t.Run("bound", func(t *testing.T) { testRecorderHearsEveryCall(t, true) })
}

func testRecorderHearsEveryCall(t *testing.T, binds bool) {
	log := &callLog{}
	cfg := exchange.DefaultConfig()
	cfg.Recorder = log
	var binder *bindingLog
	bound := ""
	if binds {
		binder = &bindingLog{callLog: log}
		cfg.Recorder = binder
		bound = "(bound)"
	}
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
	replies := spawnRecorder(t, sys, &recorder{name: "replies"})
	if err := h.RequestAsync(replies, "orders", str("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Request(ctx, "nowhere", str("x")); !errors.Is(err, exchange.ErrUnknownExchange) {
		t.Fatalf("request to an unknown exchange: %v", err)
	}
	want := []string{
		"orders request CODE_NO_HANDLERS", // refused before it was routed: by name
		"orders" + bound + " request ok",
		"orders" + bound + " request_all ok",
		"prices" + bound + " publish ok",
		"orders" + bound + " request_async ok",
		"nowhere request CODE_UNKNOWN_EXCHANGE",
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
	if binder != nil {
		binder.mu.Lock()
		defer binder.mu.Unlock()
		if len(binder.bound) != 2 || binder.bound[0] != "orders" || binder.bound[1] != "prices" {
			t.Errorf("bound %q, want orders and prices, once each", binder.bound)
		}
	}
}
