package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func pubSub(name string) exchange.Spec { return exchange.Spec{Name: name, Kind: exchange.PubSub} }

// inboxActor collects publications.
type inboxActor struct {
	mu   sync.Mutex
	keys []string
	vals []string
}

func (a *inboxActor) Receive(c actor.Context) {
	if p, ok := c.Message().(*exchange.Publication); ok {
		a.mu.Lock()
		a.keys = append(a.keys, p.Key)
		a.vals = append(a.vals, p.Payload.(*wrapperspb.StringValue).GetValue())
		a.mu.Unlock()
	}
}

func (a *inboxActor) got() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]string(nil), a.keys...)
	sort.Strings(out)
	return out
}

func subscribe(t testing.TB, h *exchange.Hub, sys *actor.ActorSystem, exch string, patterns ...string) (*inboxActor, *actor.PID) {
	t.Helper()
	a := &inboxActor{}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	for _, p := range patterns {
		if _, err := h.Subscribe(testCtx(t), exch, p, pid); err != nil {
			t.Fatalf("subscribe %q: %v", p, err)
		}
	}
	return a, pid
}

func TestPublishRoutesByPattern(t *testing.T) {
	h, sys := newHub(t, pubSub("prices"))
	subs := map[string]*inboxActor{}
	for _, p := range []string{"prices.nyse.AAPL", "prices.*.AAPL", "prices.#", "#", "prices.nyse.*", "orders.#"} {
		subs[p], _ = subscribe(t, h, sys, "prices", p)
	}
	keys := []string{"prices.nyse.AAPL", "prices.lse.AAPL", "prices.nyse.MSFT", "prices", "orders.new", "prices.nyse.AAPL.bid"}
	for _, k := range keys {
		if _, err := h.Publish(testCtx(t), "prices", k, str(k)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]string{
		"prices.nyse.AAPL": {"prices.nyse.AAPL"},
		"prices.*.AAPL":    {"prices.lse.AAPL", "prices.nyse.AAPL"},
		"prices.#":         {"prices", "prices.lse.AAPL", "prices.nyse.AAPL", "prices.nyse.AAPL.bid", "prices.nyse.MSFT"},
		"#":                {"orders.new", "prices", "prices.lse.AAPL", "prices.nyse.AAPL", "prices.nyse.AAPL.bid", "prices.nyse.MSFT"},
		"prices.nyse.*":    {"prices.nyse.AAPL", "prices.nyse.MSFT"},
		"orders.#":         {"orders.new"},
	}
	for p, w := range want {
		eventually(t, "deliveries to "+p, func() bool { return len(subs[p].got()) >= len(w) })
		if got := subs[p].got(); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s got %v, want %v", p, got, w)
		}
	}
}

func TestOneCopyPerSubscriber(t *testing.T) {
	h, sys := newHub(t, pubSub("dup"))
	a, _ := subscribe(t, h, sys, "dup", "a.*", "a.#", "#")
	n, err := h.Publish(testCtx(t), "dup", "a.b", str("x"))
	if err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v; want 1 copy", n, err)
	}
	eventually(t, "delivery", func() bool { return len(a.got()) == 1 })
	time.Sleep(20 * time.Millisecond)
	if len(a.got()) != 1 {
		t.Fatalf("got %d copies", len(a.got()))
	}
}

func TestPublicationOrderPerPublisher(t *testing.T) {
	h, sys := newHub(t, pubSub("seq"))
	var subs []*inboxActor
	for range 5 {
		a, _ := subscribe(t, h, sys, "seq", "ticks.#")
		subs = append(subs, a)
	}
	const n = 5000
	var wg sync.WaitGroup
	for pub := range 2 { // two publishers, each on its own key
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if _, err := h.Publish(context.Background(), "seq", fmt.Sprintf("ticks.p%d", pub), str(fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for si, a := range subs {
		eventually(t, "all deliveries", func() bool { return len(a.got()) == 2*n })
		a.mu.Lock()
		next := map[string]int{}
		for i, k := range a.keys {
			if want := fmt.Sprint(next[k]); a.vals[i] != want {
				a.mu.Unlock()
				t.Fatalf("subscriber %d: %s message %s arrived when %s was due", si, k, a.vals[i], want)
			}
			next[k]++
		}
		a.mu.Unlock()
	}
}

func TestDeadSubscriberAndUnsubscribe(t *testing.T) {
	h, sys := newHub(t, pubSub("ps"))
	a, pidA := subscribe(t, h, sys, "ps", "x.*")
	b := &inboxActor{}
	pidB := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return b }))
	sub, err := h.Subscribe(testCtx(t), "ps", "x.*", pidB)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := h.Publish(testCtx(t), "ps", "x.1", str("1")); n != 2 {
		t.Fatalf("copies = %d, want 2", n)
	}
	if err := sub.Unsubscribe(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(testCtx(t)); err != nil {
		t.Fatalf("second unsubscribe: %v, want nil (idempotent)", err)
	}
	if n, _ := h.Publish(testCtx(t), "ps", "x.2", str("2")); n != 1 {
		t.Fatalf("after unsubscribe copies = %d, want 1", n)
	}
	// System messages overtake queued user messages: let a take x.2 first.
	eventually(t, "x.2 delivered", func() bool { return len(a.got()) == 2 })
	stopActor(t, sys, pidA)
	eventually(t, "dead subscriber removed", func() bool {
		n, _ := h.Publish(testCtx(t), "ps", "x.3", str("3"))
		return n == 0
	})
	if len(a.got()) != 2 || len(b.got()) != 1 {
		t.Fatalf("a got %v, b got %v", a.got(), b.got())
	}
	_ = pidB
}

func TestSubscribeRejectsBadInput(t *testing.T) {
	h, sys := newHub(t, pubSub("ps"), reqResp("rr", "round-robin"))
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	cases := []struct {
		name, exch, pattern string
		pid                 *actor.PID
		want                error
	}{
		{"bad pattern", "ps", "a.b*", pid, exchange.ErrInvalid},
		{"empty pattern", "ps", "", pid, exchange.ErrInvalid},
		{"nil pid", "ps", "a", nil, exchange.ErrInvalid},
		{"req-resp exchange", "rr", "a", pid, exchange.ErrWrongKind},
		{"unknown exchange", "nope", "a", pid, exchange.ErrUnknownExchange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := h.Subscribe(testCtx(t), tc.exch, tc.pattern, tc.pid); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	for _, key := range []string{"", "a..b", "a.*", "a.#"} {
		if _, err := h.Publish(testCtx(t), "ps", key, str("x")); !errors.Is(err, exchange.ErrInvalid) {
			t.Errorf("publish key %q: err = %v, want ErrInvalid", key, err)
		}
	}
}

func TestSubscriptionsAggregatePerNode(t *testing.T) {
	h, sys := newHub(t, pubSub("agg"))
	patterns := []string{"a.#", "b.*", "c"}
	var subs []*exchange.Subscription
	for i := range 300 {
		pid := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		s, err := h.Subscribe(testCtx(t), "agg", patterns[i%3], pid)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	nps, err := h.Subscriptions("agg")
	if err != nil {
		t.Fatal(err)
	}
	if len(nps) != 1 || nps[0].GetNode() != "local" || fmt.Sprint(nps[0].GetPatterns()) != "[a.# b.* c]" {
		t.Fatalf("aggregated = %v, want one node with [a.# b.* c]", nps)
	}
	// Dropping every subscriber of "c" removes the pattern upstream.
	for i, s := range subs {
		if i%3 == 2 {
			if err := s.Unsubscribe(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, "pattern c withdrawn", func() bool {
		nps, _ := h.Subscriptions("agg")
		return len(nps) == 1 && fmt.Sprint(nps[0].GetPatterns()) == "[a.# b.*]"
	})
}
