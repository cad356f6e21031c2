package status

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/leakcheck"
	"github.com/bourse-go/bourse/internal/metrics"
	boursepb "github.com/bourse-go/bourse/proto"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// fakeCluster and fakeBroker are a node of 3 members with a req-resp
// exchange "orders" (2 handlers on n1, 1 on n2) and a pub-sub exchange
// "prices".
type fakeCluster struct {
	mu      sync.Mutex
	members []Member
}

func (c *fakeCluster) Self() Member { return c.Members()[0] }
func (c *fakeCluster) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Member(nil), c.members...)
}
func (c *fakeCluster) Owner(string) string { return "127.0.0.1:2" }
func (c *fakeCluster) HasQuorum() bool     { return true }

func (c *fakeCluster) drop(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.Node == node {
			c.members = append(c.members[:i], c.members[i+1:]...)
			return
		}
	}
}

type fakeBroker struct {
	mu        sync.Mutex
	published uint64
}

var handlers = []*boursepb.HandlerInfo{
	{Id: "h1", Node: "n1", Seq: 1}, {Id: "h2", Node: "n2", Seq: 2}, {Id: "h3", Node: "n1", Seq: 3, ConnTag: "book-1"},
}

func (b *fakeBroker) Exchanges() []exchange.Spec {
	return []exchange.Spec{{Name: "prices", Kind: exchange.PubSub}, {Name: "orders", Kind: exchange.ReqResp, Strategy: "round-robin"}}
}
func (b *fakeBroker) Leader(name string) (*boursepb.HandlerInfo, uint64, error) {
	if name != "orders" {
		return nil, 0, exchange.ErrWrongKind
	}
	return handlers[0], 7, nil
}
func (b *fakeBroker) Handlers(string) ([]*boursepb.HandlerInfo, error) { return handlers, nil }
func (b *fakeBroker) Subscriptions(string) ([]*boursepb.NodePatterns, error) {
	return []*boursepb.NodePatterns{{Node: "n3", Patterns: []string{"prices.#"}}, {Node: "n1", Patterns: []string{"prices.*.AAPL"}}}, nil
}
func (b *fakeBroker) Stats(name string) (exchange.Stats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if name == "prices" {
		return exchange.Stats{Published: b.published, Epoch: 4}, nil
	}
	return exchange.Stats{Epoch: 5, LeaderChanges: 1}, nil
}
func (b *fakeBroker) LinkStats() (exchange.LinkStats, bool) {
	return exchange.LinkStats{FramesSent: 10, BytesSent: 1000}, true
}
func (b *fakeBroker) LinkPeers() []exchange.LinkPeerStats {
	return []exchange.LinkPeerStats{
		{Peer: "127.0.0.1:12", Out: true, In: true, FramesSent: 10, BytesSent: 1000,
			RTT: 250 * time.Microsecond, SmoothedRTT: 1500 * time.Microsecond, RTTAt: rttAt},
		{Peer: "127.0.0.1:13", In: true}, // no ping answered yet
	}
}

var rttAt = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)

func (b *fakeBroker) publish(n uint64) {
	b.mu.Lock()
	b.published += n
	b.mu.Unlock()
}

func newFake() (*fakeCluster, *fakeBroker) {
	return &fakeCluster{members: []Member{
		{Node: "n1", Address: "127.0.0.1:1", Data: "127.0.0.1:11", Incarnation: 100},
		{Node: "n2", Address: "127.0.0.1:2", Data: "127.0.0.1:12", Incarnation: 200},
		{Node: "n3", Address: "127.0.0.1:3", Data: "127.0.0.1:13", Incarnation: 300, Labels: map[string]string{"zone": "b"}},
	}}, &fakeBroker{}
}

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

func TestEndpoints(t *testing.T) {
	c, b := newFake()
	s, err := New(Config{Cluster: c, Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()

	w := get(t, h, "GET", PathStatus)
	if w.Code != 200 {
		t.Fatalf("GET %s: %d %s", PathStatus, w.Code, w.Body)
	}
	d := decode[Document](t, w)
	if d.Node.Name != "n1" || d.Node.Incarnation != 100 || !d.Node.Quorum {
		t.Errorf("node: %+v", d.Node)
	}
	if len(d.Members) != 3 || !d.Members[0].Self || !d.Members[2].Alive || d.Members[2].Labels["zone"] != "b" {
		t.Errorf("members: %+v", d.Members)
	}
	if len(d.Exchanges) != 2 || d.Exchanges[0].Name != "orders" || d.Exchanges[1].Name != "prices" {
		t.Fatalf("exchanges: %+v", d.Exchanges)
	}
	o := d.Exchanges[0]
	if o.Kind != "req-resp" || o.Strategy != "round-robin" || o.Term != 7 || o.Epoch != 5 ||
		o.Authority != (NodeRef{Node: "n2", Address: "127.0.0.1:2"}) ||
		o.Leader == nil || o.Leader.ID != "h1" || len(o.Handlers) != 3 ||
		o.HandlersPerNode["n1"] != 2 || o.HandlersPerNode["n2"] != 1 || o.Stats.LeaderChanges != 1 {
		t.Errorf("orders: %+v", o)
	}
	p := d.Exchanges[1]
	if p.Kind != "pub-sub" || p.Epoch != 4 || len(p.Subscriptions) != 2 || p.Subscriptions[0].Node != "n1" || p.Leader != nil {
		t.Errorf("prices: %+v", p)
	}
	if !d.Link.Present || d.Link.BytesSent != 1000 || len(d.Link.Peers) != 2 || d.Link.Peers[0].Node != "n2" || d.Link.Peers[1].Node != "n3" {
		t.Errorf("link: %+v", d.Link)
	}
	// The round-trip time in milliseconds, when there is one.
	if p := d.Link.Peers[0]; p.RTTMS != 0.25 || p.SmoothedRTTMS != 1.5 || p.RTTAt != "2026-01-02T03:04:05.006Z" {
		t.Errorf("round-trip time to n2: %+v", p)
	}
	if p := d.Link.Peers[1]; p.RTTMS != 0 || p.SmoothedRTTMS != 0 || p.RTTAt != "" {
		t.Errorf("round-trip time to n3, which has none: %+v", p)
	}
	var raw struct {
		Link struct{ Peers []map[string]any } `json:"link"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if p := raw.Link.Peers[0]; p["rtt_ms"] != 0.25 || p["smoothed_rtt_ms"] != 1.5 || p["rtt_at"] != "2026-01-02T03:04:05.006Z" {
		t.Errorf("JSON of the round-trip time to n2: %v", p)
	}
	if _, ok := raw.Link.Peers[1]["rtt_at"]; ok {
		t.Errorf("JSON of a peer without a round-trip time has rtt_at: %v", raw.Link.Peers[1])
	}

	// Each part alone.
	if n := decode[NodeDoc](t, get(t, h, "GET", PathNode)); n.Address != "127.0.0.1:1" {
		t.Errorf("node: %+v", n)
	}
	if ms := decode[[]MemberDoc](t, get(t, h, "GET", PathMembers)); len(ms) != 3 {
		t.Errorf("members: %+v", ms)
	}
	if xs := decode[[]ExchangeDoc](t, get(t, h, "GET", PathExchanges)); len(xs) != 2 {
		t.Errorf("exchanges: %+v", xs)
	}
	if x := decode[ExchangeDoc](t, get(t, h, "GET", PathExchanges+"?name=orders")); x.Name != "orders" || len(x.Handlers) != 3 {
		t.Errorf("exchange orders: %+v", x)
	}
	if l := decode[LinkDoc](t, get(t, h, "GET", PathLink)); l.FramesSent != 10 {
		t.Errorf("link: %+v", l)
	}
	if w := get(t, h, "HEAD", PathStatus); w.Code != 200 {
		t.Errorf("HEAD: %d", w.Code)
	}

	// The page: one file, no external asset.
	w = get(t, h, "GET", PathPage)
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, "api/status") {
		t.Fatalf("page: %d %q", w.Code, w.Header())
	}
	if !strings.Contains(body, "p.smoothed_rtt_ms") || !strings.Contains(body, `"round trip"`) {
		t.Error("the page does not show the data link's round-trip time")
	}
	for _, ext := range []string{"src=\"http", "href=\"http", "@import", "<link "} {
		if strings.Contains(body, ext) {
			t.Errorf("page refers to an external asset (%s)", ext)
		}
	}
}

func TestBadInput(t *testing.T) {
	c, b := newFake()
	s, err := New(Config{Cluster: c, Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, target string
		code           int
		says           string
	}{
		{"GET", PathExchanges + "?name=nope", 404, `no exchange "nope"`},
		{"GET", PathExchanges + "?name=", 400, "name is empty"},
		{"GET", PathExchanges + "?nmae=orders", 400, `unknown parameter "nmae"`},
		{"POST", PathStatus, 405, "use GET"},
		{"DELETE", PathExchanges, 405, "use GET"},
		{"PUT", PathPage, 405, "use GET"},
		{"GET", "/api/nothing", 404, "no such page"},
		{"GET", "/favicon.ico", 404, "no such page"},
	} {
		w := get(t, s.Handler(), tc.method, tc.target)
		if w.Code != tc.code {
			t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.target, w.Code, tc.code, w.Body)
			continue
		}
		if e := decode[ErrorDoc](t, w); !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s %s: error %q, want it to say %q", tc.method, tc.target, e.Error, tc.says)
		}
		if tc.code == 405 && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.target, w.Header().Get("Allow"))
		}
	}
}

func TestConfigAndListenErrors(t *testing.T) {
	c, b := newFake()
	if _, err := New(Config{Broker: b}); !errors.Is(err, ErrConfig) {
		t.Errorf("no Cluster: %v", err)
	}
	if _, err := New(Config{Cluster: c, Broker: b, Interval: -time.Second}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative interval: %v", err)
	}
	for _, addr := range []string{"nonsense", "127.0.0.1", "127.0.0.1:", "256.0.0.1:0", "127.0.0.1:99999"} {
		_, err := Listen(addr, Config{Cluster: c, Broker: b})
		var le *ListenError
		if !errors.As(err, &le) || le.Addr != addr {
			t.Errorf("Listen(%q): %v, want a *ListenError", addr, err)
		}
	}
	// An address in use.
	s1, err := Listen("127.0.0.1:0", Config{Cluster: c, Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Stop(context.Background())
	_, err = Listen(s1.Addr(), Config{Cluster: c, Broker: b})
	var le *ListenError
	if !errors.As(err, &le) {
		t.Errorf("Listen on a taken address: %v", err)
	}
}

// A member that leaves the live set shows as down, with the time it went;
// the server samples rates while it listens, and Stop is idempotent.
func TestLiveServer(t *testing.T) {
	c, b := newFake()
	calls := metrics.New()
	s, err := Listen("127.0.0.1:0", Config{Cluster: c, Broker: b, Calls: calls, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	url := "http://" + s.Addr()
	fetch := func() Document {
		t.Helper()
		resp, err := http.Get(url + PathStatus)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d Document
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := fetch(); len(d.Members) != 3 {
		t.Fatalf("members: %+v", d.Members)
	}
	first := fetch()
	time.Sleep(30 * time.Millisecond)
	if again := fetch(); again.Members[0].Since != first.Members[0].Since || again.Time == first.Time {
		t.Errorf("a member's since moved (%s, then %s) with nothing changed", first.Members[0].Since, again.Members[0].Since)
	}
	c.drop("n3")
	d := fetch()
	if len(d.Members) != 3 || d.Members[2].Node != "n3" || d.Members[2].Alive || !d.Members[0].Alive {
		t.Fatalf("after n3 left: %+v", d.Members)
	}

	// Rates: publications and requests, with their latency, over the
	// last interval.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.publish(10)
		calls.Sent("orders", exchange.OpRequest, 2*time.Millisecond, nil)
		calls.Processed("orders", exchange.OpProcess, time.Millisecond, nil)
		time.Sleep(5 * time.Millisecond)
		d := fetch()
		o, p := d.Exchanges[0], d.Exchanges[1]
		l, ok := o.Latency["request"]
		if p.Rates.Publications > 0 && o.Rates.Requests > 0 && o.Rates.Processed > 0 && ok && l.P50MS > 1 && l.P50MS <= 2.5 && math.Abs(l.MeanMS-2) < 1e-6 && o.Stats.Requests > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rates: orders %+v, prices %+v", o, p)
		}
	}

	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + PathStatus); err == nil {
		t.Error("still serving after Stop")
	}
}

func TestQuantile(t *testing.T) {
	var b [metrics.NumBuckets]uint64
	if q := quantile(b[:], 0.5); q != 0 {
		t.Errorf("empty: %v", q)
	}
	b[0] = 100 // all within the first bucket, [0, bounds[0]]
	if q := quantile(b[:], 0.5); q != bounds[0]/2 {
		t.Errorf("p50 of the first bucket: %v, want %v", q, bounds[0]/2)
	}
	b = [metrics.NumBuckets]uint64{}
	b[len(b)-1] = 1 // above every bound
	if q := quantile(b[:], 0.99); q != bounds[len(bounds)-1] {
		t.Errorf("overflow bucket: %v", q)
	}
}
