package exchange_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
)

// seenDeadline is what a handler read from Request.Deadline.
type seenDeadline struct {
	at time.Time
	ok bool
}

// deadlineCase is a call with a deadline from its context, from
// WithTimeout, both or neither, blocking or asynchronous; want is the
// deadline the handler must see, from the call's start (0: none).
type deadlineCase struct {
	name        string
	ctxTimeout  time.Duration
	withTimeout time.Duration
	async       bool
	want        time.Duration
}

var deadlineCases = []deadlineCase{
	{name: "none"},
	{name: "context", ctxTimeout: 2 * time.Second, want: 2 * time.Second},
	{name: "WithTimeout", withTimeout: 3 * time.Second, want: 3 * time.Second},
	{name: "WithTimeout before the context", ctxTimeout: 5 * time.Second, withTimeout: 3 * time.Second, want: 3 * time.Second},
	{name: "the context before WithTimeout", ctxTimeout: 2 * time.Second, withTimeout: 5 * time.Second, want: 2 * time.Second},
	{name: "async without", async: true},
	{name: "async with WithTimeout", async: true, withTimeout: 3 * time.Second, want: 3 * time.Second},
}

// call makes tc's call from h to exchange name with payload p; replyTo
// takes an asynchronous call's reply.
func (tc deadlineCase) call(t *testing.T, h *exchange.Hub, replyTo *actor.PID, name, p string) error {
	t.Helper()
	var opts []exchange.CallOption
	if tc.withTimeout > 0 {
		opts = append(opts, exchange.WithTimeout(tc.withTimeout))
	}
	if tc.async {
		return h.RequestAsync(replyTo, name, str(p), opts...)
	}
	ctx := context.Background()
	if tc.ctxTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
		defer cancel()
	}
	_, err := h.Request(ctx, name, str(p), opts...)
	return err
}

// check fails t unless the handler saw tc's deadline, within tolerance
// after the one the caller set at start, never before.
func (tc deadlineCase) check(t *testing.T, start time.Time, got seenDeadline, tolerance time.Duration) {
	t.Helper()
	if got.ok != (tc.want > 0) {
		t.Fatalf("handler saw a deadline: %v, want %v", got.ok, tc.want > 0)
	}
	if !got.ok {
		if !got.at.IsZero() {
			t.Fatalf("no deadline, but Deadline returned %v", got.at)
		}
		return
	}
	// The caller set its deadline at start or just after.
	early, late := start.Add(tc.want), time.Now().Add(tc.want)
	if got.at.Before(early) || got.at.After(late.Add(tolerance)) {
		t.Fatalf("handler's deadline %v after the call's start, want %v to %v", got.at.Sub(start), tc.want, late.Add(tolerance).Sub(start))
	}
}

// deadlineRecorder answers every request and records the deadline it saw.
func deadlineRecorder(name string) (*recorder, chan seenDeadline) {
	seen := make(chan seenDeadline, 16)
	r := &recorder{name: name}
	r.reply = func(req *exchange.Request) {
		at, ok := req.Deadline()
		seen <- seenDeadline{at, ok}
		req.Respond(str(name))
	}
	return r, seen
}

func TestRequestCarriesDeadline(t *testing.T) {
	h, sys := newHub(t, reqResp("dl", "round-robin"))
	r, seen := deadlineRecorder("h")
	if _, err := h.Connect(testCtx(t), "dl", spawnRecorder(t, sys, r)); err != nil {
		t.Fatal(err)
	}
	sink := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	for _, tc := range deadlineCases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if err := tc.call(t, h, sink, "dl", "x"); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-seen:
				// The same clock on the caller's node: the same deadline.
				tc.check(t, start, got, 0)
			case <-time.After(5 * time.Second):
				t.Fatal("the handler saw no request")
			}
		})
	}
}

// blockingHandler is a handler actor that drops expired requests
// (DropExpired) and holds a request "block" until gate closes. It records
// the payloads it processed.
type blockingHandler struct {
	gate    chan struct{}
	mu      sync.Mutex
	handled []string
	// answeredAfterDrop counts dropped requests that Respond still
	// answered: it must stay 0.
	answeredAfterDrop int
}

func (b *blockingHandler) recorder(t testing.TB) *recorder {
	r := &recorder{name: "h"}
	r.reply = func(req *exchange.Request) {
		if req.DropExpired() {
			if req.Respond(str("too late")) {
				b.mu.Lock()
				b.answeredAfterDrop++
				b.mu.Unlock()
			}
			return
		}
		p := strOf(t, req.Payload)
		if p == "block" {
			<-b.gate
		}
		b.mu.Lock()
		b.handled = append(b.handled, p)
		b.mu.Unlock()
		req.Respond(str(p))
	}
	return r
}

func (b *blockingHandler) processed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.handled...)
}

func TestExpiredRequestIsDroppedAndCounted(t *testing.T) {
	for _, tc := range []struct {
		name string
		late func(h *exchange.Hub) error // a call whose deadline passes in the mailbox
	}{
		{"context deadline", func(h *exchange.Hub) error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			_, err := h.Request(ctx, "slow", str("late"))
			return err
		}},
		{"WithTimeout", func(h *exchange.Hub) error {
			_, err := h.Request(context.Background(), "slow", str("late"), exchange.WithTimeout(30*time.Millisecond))
			return err
		}},
		{"RequestAll WithTimeout", func(h *exchange.Hub) error {
			_, err := h.RequestAll(context.Background(), "slow", str("late"), exchange.WithTimeout(30*time.Millisecond))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, sys := newHub(t, reqResp("slow", "round-robin"))
			bh := &blockingHandler{gate: make(chan struct{})}
			r := bh.recorder(t)
			if _, err := h.Connect(testCtx(t), "slow", spawnRecorder(t, sys, r)); err != nil {
				t.Fatal(err)
			}
			blocked := make(chan error, 1)
			go func() {
				_, err := h.Request(testCtx(t), "slow", str("block"))
				blocked <- err
			}()
			eventually(t, "the handler holds the first request", func() bool { return r.count() == 1 })
			if err := tc.late(h); !errors.Is(err, exchange.ErrTimeout) {
				t.Fatalf("late call: %v, want ErrTimeout", err)
			}
			// Queued behind it too, without a deadline: processed.
			sink := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
			if err := h.RequestAsync(sink, "slow", str("no deadline")); err != nil {
				t.Fatal(err)
			}
			close(bh.gate)
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
			eventually(t, "the handler reaches the queued requests", func() bool { return r.count() == 3 })
			eventually(t, "the request without a deadline is processed", func() bool { return len(bh.processed()) == 2 })
			if got := bh.processed(); got[0] != "block" || got[1] != "no deadline" {
				t.Fatalf("processed %q, want block and no deadline (the late request dropped)", got)
			}
			st, err := h.Stats("slow")
			if err != nil || st.Expired != 1 {
				t.Fatalf("Stats.Expired = %d (%v), want 1", st.Expired, err)
			}
			bh.mu.Lock()
			defer bh.mu.Unlock()
			if bh.answeredAfterDrop != 0 {
				t.Fatal("Respond answered a dropped request")
			}
		})
	}
}
