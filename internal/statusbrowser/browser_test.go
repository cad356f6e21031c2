package statusbrowser

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var screenshot = flag.String("screenshot", os.Getenv("BOURSE_STATUS_SCREENSHOT"),
	"write a PNG of node 1's status page, with the 3 nodes up, to this file (e.g. ../../docs/status.png)")

func TestMain(m *testing.M) {
	clustertest.Main(map[string]clustertest.ChildFunc{"node": runNode})
	goleak.VerifyTestMain(m, clustertest.LeakOptions()...)
}

// The exchanges every node declares and serves.
const (
	ordersExchange = "orders" // req-resp: one handler per node
	pricesExchange = "prices" // pub-sub: one subscriber per node
)

// chromium returns the path of the browser: $BOURSE_CHROMIUM, or chromium
// (Debian's package) or google-chrome on $PATH. Without one the test
// skips, except under CI=true, where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BOURSE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("BOURSE_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on $PATH (apt-get install -y chromium, or set BOURSE_CHROMIUM); under CI=true the browser test must run")
	}
	t.Skip("no chromium on $PATH (apt-get install -y chromium, or set BOURSE_CHROMIUM)")
	return ""
}

// freePorts returns n ports that were free a moment ago on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// TestStatusPageInBrowser starts 3 nodes, one per process, opens node 1's
// status page in headless chromium and checks what it shows, before and
// after node 3 is killed with SIGKILL.
func TestStatusPageInBrowser(t *testing.T) {
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The cluster: each node lists the 3 addresses (static discovery).
	ports := freePorts(t, 3)
	var peers []string
	for _, p := range ports {
		peers = append(peers, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	start := time.Now()
	nodes := make([]*clustertest.Process, 3)
	for i := range nodes {
		env := []string{
			"NODE_NAME=n" + strconv.Itoa(i+1),
			"NODE_PORT=" + strconv.Itoa(ports[i]),
			"NODE_PEERS=" + strings.Join(peers, ","),
		}
		if i == 0 {
			env = append(env, "NODE_STATUS=127.0.0.1:0", "NODE_LOAD=1")
		}
		nodes[i] = clustertest.Start(t, "node", env...) // killed by a cleanup, whatever happens
	}
	for _, n := range nodes {
		if _, err := n.Value(ctx, "ready"); err != nil {
			t.Fatal(err)
		}
	}
	addr, err := nodes[0].Value(ctx, "status")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/"
	t.Logf("3 nodes ready in %v; node 1's status page: %s", time.Since(start).Round(time.Millisecond), url)

	// The browser, in a profile of its own that the test removes.
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer func() {
		cancelBrowser() // closes the tab and the browser, and waits for it
		cancelAlloc()
	}()
	opened := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}

	// The 3 members alive, and the exchange's handlers on each node.
	const alive = `document.querySelectorAll('tr[data-member][data-alive="true"]').length`
	const handlerNodes = `Array.from(document.querySelectorAll('[data-exchange="orders"] tr[data-handler-node]')).map(r => r.dataset.handlerNode).sort().join(",")`
	const subscribers = `document.querySelectorAll('[data-exchange="prices"] tr[data-subscription-node]').length`
	const peerRows = `document.querySelectorAll('tr[data-peer]').length`
	waitFor(t, bctx, 20*time.Second, "3 members alive, handlers on n1,n2,n3, 3 subscribing nodes, 2 link peers", func(ev evaluator) (bool, string) {
		a, h, s, p := ev.int(alive), ev.str(handlerNodes), ev.int(subscribers), ev.int(peerRows)
		return a == 3 && h == "n1,n2,n3" && s == 3 && p == 2, fmt.Sprintf("alive %d, handlers on %q, subscribing nodes %d, link peers %d", a, h, s, p)
	})
	t.Logf("page shows the 3-node cluster %v after it was opened", time.Since(opened).Round(time.Millisecond))
	// The data link's round-trip time to both peers (a ping a second).
	const rtts = `Array.from(document.querySelectorAll('tr[data-peer] td[data-rtt-ms]')).filter(td => Number(td.dataset.rttMs) > 0).map(td => td.innerText).join(" | ")`
	var shown string
	waitFor(t, bctx, 10*time.Second, "a round-trip time to both link peers", func(ev evaluator) (bool, string) {
		shown = ev.str(rtts)
		return shown != "" && len(strings.Split(shown, " | ")) == 2, "round-trip times " + shown
	})
	t.Logf("page shows the round-trip times %s", shown)

	if *screenshot != "" {
		// Let the rates of the load settle over a few samples first.
		waitFor(t, bctx, 10*time.Second, "request and publication rates", func(ev evaluator) (bool, string) {
			x := ev.str(`document.querySelector('[data-exchange="orders"] .facts').innerText.replace(/\n/g, " ")`)
			return !strings.Contains(x, "requests/s 0 ") && !strings.Contains(x, "p50 / p99 –"), x
		})
		var err error
		t.Logf("members as the page shows them:\n%s", evaluator{ctx: bctx, err: &err}.str(`document.getElementById("members").innerText`))
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", *screenshot, len(png))
	}

	// Kill node 3: the page shows it down and its handler gone.
	killed := time.Now()
	if err := nodes[2].Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bctx, 10*time.Second, "n3 down and its handler gone", func(ev evaluator) (bool, string) {
		down := ev.str(`(document.querySelector('tr[data-member="n3"]') || {dataset: {}}).dataset.alive || "absent"`)
		a, h := ev.int(alive), ev.str(handlerNodes)
		return down == "false" && a == 2 && h == "n1,n2", fmt.Sprintf("n3 alive=%s, alive %d, handlers on %q", down, a, h)
	})
	t.Logf("page shows n3 down and its handler gone %v after SIGKILL", time.Since(killed).Round(time.Millisecond))

	// Stop the survivors gracefully (the cleanups would kill them).
	for _, n := range nodes[:2] {
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
}

// evaluator evaluates JavaScript expressions in the page, recording the
// first error.
type evaluator struct {
	ctx context.Context
	err *error
}

func eval[T any](ev evaluator, expr string) T {
	var v T
	if *ev.err != nil {
		return v
	}
	v, *ev.err = chromedp.Run(ev.ctx, chromedp.Evaluate[T](expr))
	return v
}

func (ev evaluator) int(expr string) int    { return eval[int](ev, expr) }
func (ev evaluator) str(expr string) string { return eval[string](ev, expr) }

// waitFor polls check every 100 ms until it holds, and fails the test with
// check's last description when it has not within d.
func waitFor(t *testing.T, ctx context.Context, d time.Duration, what string, check func(evaluator) (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var err error
		ok, saw := check(evaluator{ctx: ctx, err: &err})
		if err == nil && ok {
			return
		}
		if err != nil {
			saw = "error: " + err.Error()
		}
		if time.Now().After(deadline) || errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("the page did not show %s within %v; it showed: %s", what, d, saw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runNode is the "node" child: a cluster node on NODE_PORT, with static
// discovery of NODE_PEERS, the status page on NODE_STATUS when set, a
// handler of ordersExchange and a subscriber of pricesExchange; with
// NODE_LOAD set it also sends requests and publications, 50 of each per
// second, so that the page has rates to show.
func runNode(ctx context.Context, c *clustertest.Child) error {
	name := os.Getenv("NODE_NAME")
	port, err := strconv.Atoi(os.Getenv("NODE_PORT"))
	if err != nil {
		return fmt.Errorf("NODE_PORT: %w", err)
	}
	cfg := cluster.DefaultConfig()
	cfg.Cluster = "status-browser"
	cfg.Node = name
	cfg.Host = "127.0.0.1"
	cfg.Port = port
	cfg.HeartbeatInterval = 100 * time.Millisecond
	cfg.SuspectAfter = 2 * time.Second
	cfg.Discovery = static.New(strings.Split(os.Getenv("NODE_PEERS"), ",")...)
	cfg.StatusListen = os.Getenv("NODE_STATUS")
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Stop(context.Background())
	b := n.Broker()
	if err := b.Declare(ctx, actors.Spec{Name: ordersExchange, Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		return err
	}
	if err := b.Declare(ctx, actors.Spec{Name: pricesExchange, Kind: actors.PubSub}); err != nil {
		return err
	}
	echo := func(_ context.Context, m *wrapperspb.StringValue) (*wrapperspb.StringValue, error) { return m, nil }
	if _, err := actors.ServeFunc(ctx, b, ordersExchange, echo); err != nil {
		return err
	}
	if _, err := actors.SubscribeFunc(ctx, b, pricesExchange, "prices.#", func(string, *wrapperspb.StringValue) {}); err != nil {
		return err
	}
	c.Set("status", n.StatusAddress())
	c.Set("ready", "1")
	if os.Getenv("NODE_LOAD") == "" {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			_, _ = actors.Call[*wrapperspb.StringValue](rctx, b, ordersExchange, wrapperspb.String("order"))
			_ = b.Publish(rctx, pricesExchange, "prices.nyse.AAPL", wrapperspb.String("tick"))
			cancel()
		}
	}
}
