package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	"github.com/bourse-go/bourse/strategies"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func reqResp(name, strategy string) exchange.Spec {
	return exchange.Spec{Name: name, Kind: exchange.ReqResp, Strategy: strategy}
}

func TestRoundRobinSpreadsEvenly(t *testing.T) {
	h, sys := newHub(t, reqResp("rr", "round-robin"))
	var recs []*recorder
	for i := range 3 {
		r, _, _ := connect(t, h, sys, "rr", fmt.Sprintf("h%d", i))
		recs = append(recs, r)
	}
	for i := range 30 {
		got, err := h.Request(testCtx(t), "rr", str(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(strOf(t, got), fmt.Sprintf(":%d", i)) {
			t.Fatalf("reply %q to request %d", strOf(t, got), i)
		}
	}
	for i, r := range recs {
		if n := r.count(); n != 10 {
			t.Errorf("handler %d got %d requests, want 10", i, n)
		}
	}
}

func TestNoHandlersFailsAtOnce(t *testing.T) {
	h, sys := newHub(t, reqResp("empty", "round-robin"), reqResp("tagged", "round-robin"))
	connect(t, h, sys, "tagged", "eu", exchange.ServiceTag("eu"))
	cases := []struct {
		name string
		exch string
		opts []exchange.CallOption
	}{
		{"no handler at all", "empty", nil},
		{"no handler for the tag", "tagged", []exchange.CallOption{exchange.WithServiceTag("us")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err := h.Request(ctx, tc.exch, str("x"), tc.opts...)
			took := time.Since(start)
			if !errors.Is(err, exchange.ErrNoHandlers) {
				t.Fatalf("err = %v, want ErrNoHandlers", err)
			}
			var re *exchange.RequestError
			if !errors.As(err, &re) || re.Exchange != tc.exch {
				t.Fatalf("err = %#v, want *RequestError naming %q", err, tc.exch)
			}
			// The deadline is 5 s; failing at once means far below it (the
			// benchmark BenchmarkNoHandlers measures the real cost).
			if took > 500*time.Millisecond {
				t.Fatalf("took %v: waited instead of failing at once", took)
			}
			t.Logf("failed in %v", took)
		})
	}
}

func TestServiceTagsRouteWithinGroup(t *testing.T) {
	h, sys := newHub(t, reqResp("svc", "round-robin"))
	eu, _, _ := connect(t, h, sys, "svc", "eu", exchange.ServiceTag("eu"))
	us1, _, _ := connect(t, h, sys, "svc", "us1", exchange.ServiceTag("us"))
	us2, _, _ := connect(t, h, sys, "svc", "us2", exchange.ServiceTag("us"))
	for range 10 {
		if _, err := h.Request(testCtx(t), "svc", str("x"), exchange.WithServiceTag("us")); err != nil {
			t.Fatal(err)
		}
	}
	if eu.count() != 0 || us1.count() != 5 || us2.count() != 5 {
		t.Fatalf("eu=%d us1=%d us2=%d, want 0/5/5", eu.count(), us1.count(), us2.count())
	}
	// Untagged requests go to everyone.
	for range 3 {
		if _, err := h.Request(testCtx(t), "svc", str("x")); err != nil {
			t.Fatal(err)
		}
	}
	if eu.count() != 1 {
		t.Fatalf("untagged requests reached eu %d times, want 1", eu.count())
	}
	for _, r := range us1.reqs[:5] {
		if r.ServiceTag != "us" {
			t.Fatalf("request's ServiceTag = %q", r.ServiceTag)
		}
	}
}

func TestConnectionTagsTellConnectionsApart(t *testing.T) {
	h, sys := newHub(t, reqResp("ct", "round-robin"))
	r := &recorder{name: "multi"}
	pid := spawnRecorder(t, sys, r)
	for _, tag := range []string{"a", "b"} {
		if _, err := h.Connect(testCtx(t), "ct", pid, exchange.ConnTag(tag)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Connect(testCtx(t), "ct", pid, exchange.ConnTag("a")); !errors.Is(err, exchange.ErrAlreadyConnected) {
		t.Fatalf("second connect under the same tag: err = %v, want ErrAlreadyConnected", err)
	}
	for range 4 {
		if _, err := h.Request(testCtx(t), "ct", str("x")); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, req := range r.reqs {
		seen[req.ConnTag]++
	}
	if seen["a"] != 2 || seen["b"] != 2 {
		t.Fatalf("deliveries by connection tag = %v, want a:2 b:2", seen)
	}
}

// asyncCaller sends n tagged requests from inside an actor and collects the
// replies it receives as messages.
type asyncCaller struct {
	h       *exchange.Hub
	n       int
	mu      sync.Mutex
	replies map[string]string // tag -> payload
	errs    []error
	done    chan struct{}
}

func (a *asyncCaller) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		for i := range a.n {
			tag := fmt.Sprintf("tag-%d", i)
			if err := a.h.RequestAsync(c.Self(), "async", str(fmt.Sprint(i)), exchange.WithTag(tag)); err != nil {
				a.errs = append(a.errs, err)
			}
		}
	case *exchange.Reply:
		a.mu.Lock()
		a.replies[m.Tag] = m.Payload.(*wrapperspb.StringValue).GetValue()
		if len(a.replies) == a.n {
			close(a.done)
		}
		a.mu.Unlock()
	}
}

func TestAsyncRequestTagsComeBack(t *testing.T) {
	h, sys := newHub(t, reqResp("async", "round-robin"))
	for i := range 4 {
		// Handlers answer after a delay that differs per request, so replies
		// come back out of order.
		r := &recorder{name: fmt.Sprintf("h%d", i)}
		r.reply = func(req *exchange.Request) {
			go func() {
				time.Sleep(time.Duration(len(req.Tag)%3) * time.Millisecond)
				req.Respond(str("re:" + req.Payload.(*wrapperspb.StringValue).GetValue()))
			}()
		}
		if _, err := h.Connect(testCtx(t), "async", spawnRecorder(t, sys, r)); err != nil {
			t.Fatal(err)
		}
	}
	a := &asyncCaller{h: h, n: 200, replies: map[string]string{}, done: make(chan struct{})}
	sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("got %d of %d replies", len(a.replies), a.n)
	}
	if len(a.errs) > 0 {
		t.Fatal(a.errs[0])
	}
	for i := range a.n {
		if got, want := a.replies[fmt.Sprintf("tag-%d", i)], fmt.Sprintf("re:%d", i); got != want {
			t.Fatalf("reply for tag-%d = %q, want %q", i, got, want)
		}
	}
}

func TestAsyncNoHandlersReturnsError(t *testing.T) {
	h, sys := newHub(t, reqResp("async", "round-robin"))
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := h.RequestAsync(pid, "async", str("x"), exchange.WithTag("t")); !errors.Is(err, exchange.ErrNoHandlers) {
		t.Fatalf("err = %v, want ErrNoHandlers", err)
	}
	if err := h.RequestAsync(nil, "async", str("x")); !errors.Is(err, exchange.ErrInvalid) {
		t.Fatalf("nil reply-to: err = %v, want ErrInvalid", err)
	}
}

func TestDefaultStrategyBroadcasts(t *testing.T) {
	h, sys := newHub(t, reqResp("bc", ""))
	var recs []*recorder
	for i := range 3 {
		r, _, _ := connect(t, h, sys, "bc", fmt.Sprintf("h%d", i))
		recs = append(recs, r)
	}
	replies, err := h.RequestAll(testCtx(t), "bc", str("ping"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range replies {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got[strOf(t, r.Payload)] = true
	}
	if len(got) != 3 || !got["h0:ping"] || !got["h1:ping"] || !got["h2:ping"] {
		t.Fatalf("replies = %v, want one from each of h0, h1, h2", got)
	}
	// Request returns the first successful reply: make two handlers fail.
	recs[0].reply = func(r *exchange.Request) { r.Fail(errors.New("boom")) }
	recs[1].reply = func(r *exchange.Request) { r.Fail(errors.New("bang")) }
	for range 20 {
		got, err := h.Request(testCtx(t), "bc", str("x"))
		if err != nil || strOf(t, got) != "h2:x" {
			t.Fatalf("Request = %v, %v; want h2:x", got, err)
		}
	}
	recs[2].reply = func(r *exchange.Request) { r.Fail(errors.New("crash")) }
	_, err = h.Request(testCtx(t), "bc", str("x"))
	var he *exchange.HandlerError
	if !errors.Is(err, exchange.ErrHandler) || !errors.As(err, &he) {
		t.Fatalf("all failing: err = %v, want a HandlerError", err)
	}
}

func TestTimeoutAndLateReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		call func(h *exchange.Hub) error
	}{
		{"context deadline", func(h *exchange.Hub) error {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			_, err := h.Request(ctx, "slow", str("late"))
			return err
		}},
		{"WithTimeout", func(h *exchange.Hub) error {
			_, err := h.Request(context.Background(), "slow", str("late"), exchange.WithTimeout(20*time.Millisecond))
			return err
		}},
		{"RequestAll WithTimeout", func(h *exchange.Hub) error {
			_, err := h.RequestAll(context.Background(), "slow", str("late"), exchange.WithTimeout(20*time.Millisecond))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, sys := newHub(t, reqResp("slow", "round-robin"))
			release := make(chan struct{})
			r := &recorder{name: "slow"}
			r.reply = func(req *exchange.Request) {
				if strOf(t, req.Payload) == "late" {
					go func() { <-release; req.Respond(str("late reply")) }()
					return
				}
				req.Respond(str("fast:" + strOf(t, req.Payload)))
			}
			if _, err := h.Connect(testCtx(t), "slow", spawnRecorder(t, sys, r)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := tc.call(h)
			if !errors.Is(err, exchange.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
			}
			if took := time.Since(start); took < 20*time.Millisecond {
				t.Fatalf("timed out after %v, before the 20ms deadline", took)
			}
			close(release)
			// The late reply must not reach any later caller, and a pooled
			// call's timer must not fire into a later call.
			for i := range 200 {
				got, err := h.Request(testCtx(t), "slow", str(fmt.Sprint(i)), exchange.WithTimeout(time.Second))
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("fast:%d", i); strOf(t, got) != want {
					t.Fatalf("got %q, want %q", strOf(t, got), want)
				}
			}
		})
	}
}

func TestErrorsKeepTheirIdentity(t *testing.T) {
	h, sys := newHub(t, reqResp("errs", "round-robin"))
	r := &recorder{name: "e"}
	r.reply = func(req *exchange.Request) {
		switch strOf(t, req.Payload) {
		case "reject":
			req.Fail(fmt.Errorf("limit exceeded: %w", exchange.ErrRejected))
		case "plain":
			req.Fail(errors.New("disk full"))
		}
	}
	if _, err := h.Connect(testCtx(t), "errs", spawnRecorder(t, sys, r)); err != nil {
		t.Fatal(err)
	}
	_, err := h.Request(testCtx(t), "errs", str("reject"))
	if !errors.Is(err, exchange.ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	_, err = h.Request(testCtx(t), "errs", str("plain"))
	var he *exchange.HandlerError
	if !errors.As(err, &he) || he.Message != "disk full" || !errors.Is(err, exchange.ErrHandler) {
		t.Fatalf("err = %#v, want HandlerError{disk full}", err)
	}
}

func TestWireErrorsRoundTrip(t *testing.T) {
	sentinels := []error{exchange.ErrNoHandlers, exchange.ErrTimeout, exchange.ErrRejected, exchange.ErrUnknownExchange,
		exchange.ErrWrongKind, exchange.ErrNodeDown, exchange.ErrStopped, exchange.ErrInvalid, exchange.ErrRedirectLoop, exchange.ErrOverloaded}
	for _, s := range sentinels {
		w := exchange.ErrorToWire("x", fmt.Errorf("context: %w", s))
		if back := exchange.ErrorFromWire(w); !errors.Is(back, s) {
			t.Errorf("%v: came back as %v (code %v)", s, back, w.GetCode())
		}
	}
	w := exchange.ErrorToWire("x", errors.New("disk full"))
	var he *exchange.HandlerError
	if back := exchange.ErrorFromWire(w); !errors.As(back, &he) || he.Message != "disk full" {
		t.Errorf("plain error came back as %#v", back)
	}
	if exchange.ErrorFromWire(nil) != nil || exchange.ErrorToWire("x", nil) != nil {
		t.Error("nil must stay nil")
	}
	// A malformed wire error (unknown code) is a handler failure, not a panic.
	if back := exchange.ErrorFromWire(&boursepb.Error{Code: 999, Message: "?"}); !errors.Is(back, exchange.ErrHandler) {
		t.Errorf("unknown code came back as %v", back)
	}
}

func TestConsensusGoesToLeaderAndFailsOver(t *testing.T) {
	h, sys := newHub(t, reqResp("cons", "consensus"))
	r0, pid0, _ := connect(t, h, sys, "cons", "h0")
	r1, _, _ := connect(t, h, sys, "cons", "h1")
	for range 10 {
		if _, err := h.Request(testCtx(t), "cons", str("x")); err != nil {
			t.Fatal(err)
		}
	}
	if r0.count() != 10 || r1.count() != 0 {
		t.Fatalf("leader got %d, follower %d; want 10/0", r0.count(), r1.count())
	}
	stopActor(t, sys, pid0)
	eventually(t, "h0 removed", func() bool { hs, _ := h.Handlers("cons"); return len(hs) == 1 })
	for range 5 {
		if _, err := h.Request(testCtx(t), "cons", str("x")); err != nil {
			t.Fatal(err)
		}
	}
	if r1.count() != 5 {
		t.Fatalf("new leader got %d requests, want 5", r1.count())
	}
}

func TestStickyPinsKeys(t *testing.T) {
	h, sys := newHub(t, reqResp("st", "sticky"))
	for i := range 4 {
		connect(t, h, sys, "st", fmt.Sprintf("h%d", i))
	}
	owner := map[string]string{}
	for round := range 3 {
		for k := range 50 {
			key := fmt.Sprintf("key-%d", k)
			got, err := h.Request(testCtx(t), "st", str("x"), exchange.WithKey(key))
			if err != nil {
				t.Fatal(err)
			}
			who := strings.Split(strOf(t, got), ":")[0]
			if round == 0 {
				owner[key] = who
			} else if owner[key] != who {
				t.Fatalf("key %s went to %s, earlier to %s", key, who, owner[key])
			}
		}
	}
	spread := map[string]int{}
	for _, w := range owner {
		spread[w]++
	}
	if len(spread) < 3 {
		t.Fatalf("50 keys reached only %v", spread)
	}
}

func TestFunStrategyRoutesRedirectsRejectsTransforms(t *testing.T) {
	fun := strategies.Fun(func(req strategies.Request, members []strategies.Member) (strategies.Decision, error) {
		switch req.Key {
		case "reject":
			return strategies.Decision{}, errors.New("over the limit")
		case "redirect":
			return strategies.Decision{Redirect: "backoffice"}, nil
		case "loop":
			return strategies.Decision{Redirect: "front"}, nil
		case "transform":
			return strategies.Decision{Target: 0, Payload: str("TRANSFORMED")}, nil
		}
		return strategies.Decision{Target: len(members) - 1}, nil
	})
	strat, err := fun(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, sys := newHub(t, exchange.Spec{Name: "front", Kind: exchange.ReqResp, Impl: strat}, reqResp("backoffice", "round-robin"))
	connect(t, h, sys, "front", "f0")
	connect(t, h, sys, "front", "f1")
	connect(t, h, sys, "backoffice", "b")

	cases := []struct {
		key     string
		want    string
		wantErr error
	}{
		{key: "", want: "f1:x"},
		{key: "transform", want: "f0:TRANSFORMED"},
		{key: "redirect", want: "b:x"},
		{key: "reject", wantErr: exchange.ErrRejected},
		{key: "loop", wantErr: exchange.ErrRedirectLoop},
	}
	for _, tc := range cases {
		t.Run("key="+tc.key, func(t *testing.T) {
			got, err := h.Request(testCtx(t), "front", str("x"), exchange.WithKey(tc.key))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || strOf(t, got) != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestDeadHandlerIsRemoved(t *testing.T) {
	h, sys := newHub(t, reqResp("dead", "round-robin"))
	_, pid0, _ := connect(t, h, sys, "dead", "h0")
	r1, _, _ := connect(t, h, sys, "dead", "h1")
	stopActor(t, sys, pid0)
	eventually(t, "h0 removed", func() bool { hs, _ := h.Handlers("dead"); return len(hs) == 1 })
	for range 6 {
		if _, err := h.Request(testCtx(t), "dead", str("x")); err != nil {
			t.Fatal(err)
		}
	}
	if r1.count() != 6 {
		t.Fatalf("survivor got %d of 6", r1.count())
	}
}

func TestDisconnect(t *testing.T) {
	h, sys := newHub(t, reqResp("dc", "round-robin"))
	r0, _, c0 := connect(t, h, sys, "dc", "h0")
	if err := c0.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c0.Close(testCtx(t)); err != nil {
		t.Fatalf("second close: %v, want nil (idempotent)", err)
	}
	if _, err := h.Request(testCtx(t), "dc", str("x")); !errors.Is(err, exchange.ErrNoHandlers) {
		t.Fatalf("after disconnect: %v, want ErrNoHandlers", err)
	}
	eventually(t, "own SlaveDown", func() bool {
		for _, e := range r0.events() {
			if d, ok := e.(*boursepb.SlaveDown); ok && d.GetReason() == "disconnected" {
				return true
			}
		}
		return false
	})
}

func TestDeclare(t *testing.T) {
	h, _ := newHub(t, reqResp("rr", "round-robin"))
	cases := []struct {
		name    string
		spec    exchange.Spec
		wantErr error
	}{
		{"same again is fine", reqResp("rr", "round-robin"), nil},
		{"different strategy", reqResp("rr", "sticky"), exchange.ErrExchangeExists},
		{"different kind", exchange.Spec{Name: "rr", Kind: exchange.PubSub}, exchange.ErrExchangeExists},
		{"unknown strategy", reqResp("x", "round_robin"), strategies.ErrUnknownStrategy},
		{"empty name", reqResp("", "round-robin"), exchange.ErrInvalid},
		{"no kind", exchange.Spec{Name: "k"}, exchange.ErrInvalid},
		{"pub-sub with strategy", exchange.Spec{Name: "ps", Kind: exchange.PubSub, Strategy: "sticky"}, exchange.ErrInvalid},
		{"bad sticky params", exchange.Spec{Name: "sp", Kind: exchange.ReqResp, Strategy: "sticky", Params: strategies.Params{"load_factor": "heavy"}}, strategies.ErrInvalidParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := h.Declare(testCtx(t), tc.spec)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if err := h.Declare(testCtx(t), reqResp("x", "round_robin")); err == nil || !strings.Contains(err.Error(), "round-robin") {
		t.Fatalf("unknown strategy error should list the known ones: %v", err)
	}
	if _, err := h.Request(testCtx(t), "nope", str("x")); !errors.Is(err, exchange.ErrUnknownExchange) {
		t.Fatalf("unknown exchange: %v", err)
	}
	if _, err := h.Publish(testCtx(t), "rr", "a.b", str("x")); !errors.Is(err, exchange.ErrWrongKind) {
		t.Fatalf("publish to req-resp: %v", err)
	}
}

func TestStopFailsWaitersAndIsIdempotent(t *testing.T) {
	sys := newSystem()
	defer sys.Shutdown()
	h, err := exchange.New(sys, exchange.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Declare(testCtx(t), reqResp("hang", "round-robin")); err != nil {
		t.Fatal(err)
	}
	r := &recorder{name: "hang", reply: func(*exchange.Request) {}} // never answers
	if _, err := h.Connect(testCtx(t), "hang", spawnRecorder(t, sys, r)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := h.Request(context.Background(), "hang", str("x")); errc <- err }()
	eventually(t, "request delivered", func() bool { return r.count() == 1 })
	if err := h.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, exchange.ErrStopped) {
			t.Fatalf("waiting request: %v, want ErrStopped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting request not released by Stop")
	}
	if err := h.Stop(testCtx(t)); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := h.Request(testCtx(t), "hang", str("x")); !errors.Is(err, exchange.ErrStopped) {
		t.Fatalf("request after stop: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	sys := newSystem()
	defer sys.Shutdown()
	cfg := exchange.DefaultConfig()
	cfg.Node = ""
	if _, err := exchange.New(sys, cfg); !errors.Is(err, exchange.ErrInvalid) {
		t.Fatalf("empty node: %v", err)
	}
	cfg = exchange.DefaultConfig()
	cfg.MaxRedirects = -1
	if _, err := exchange.New(sys, cfg); !errors.Is(err, exchange.ErrInvalid) {
		t.Fatalf("negative MaxRedirects: %v", err)
	}
	if _, err := exchange.New(nil, exchange.DefaultConfig()); !errors.Is(err, exchange.ErrInvalid) {
		t.Fatalf("nil system: %v", err)
	}
}
