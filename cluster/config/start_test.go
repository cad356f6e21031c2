package config_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/exchange"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The tests that start a node run each in a process of its own: protoactor
// remote's Start writes grpc's global logger, which the race detector
// reports when a second node starts in a process (see clustertest.Isolate).

func TestStart(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	f := parse(t, `
node: {name: solo, port: 0}
cluster: {name: test, heartbeat_interval: 50ms, suspect_after: 500ms}
exchanges:
  - {name: orders, kind: req-resp, strategy: round-robin}
  - {name: prices, kind: pub-sub}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := config.Start(ctx, f)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var names []string
	for _, s := range n.Broker().Exchanges() {
		names = append(names, s.Name+"/"+s.Kind.String())
	}
	slices.Sort(names)
	// bourse.deploy is the deployment runtime's control exchange, on every
	// node.
	if got := strings.Join(names, ","); got != "bourse.deploy/req-resp,orders/req-resp,prices/pub-sub" {
		t.Errorf("declared %s", got)
	}
	if n.Name() != "solo" || len(n.Members()) != 1 {
		t.Errorf("node %s sees %v", n.Name(), n.Members())
	}
	if err := n.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// A declaration that fails stops the node: TestMain finds no goroutine left.
func TestStartStopsNodeWhenDeclareFails(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	f := parse(t, "node: {name: solo}")
	f.Exchanges = []exchange.Spec{
		{Name: "orders", Kind: exchange.ReqResp},
		{Name: "orders", Kind: exchange.PubSub}, // the name is taken by another kind
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := config.Start(ctx, f)
	if err == nil {
		_ = n.Stop(ctx)
		t.Fatal("Start succeeded, want an error")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, exchange.ErrExchangeExists) || !strings.Contains(err.Error(), `exchanges[1] ("orders")`) {
		t.Errorf("error %q, want one naming exchanges[1] and wrapping ErrExchangeExists", err)
	}
}

// A node started from a file applies its services: they run once Await
// returns, and one of a kind the node lacks is an error naming its key.
func TestStartAppliesServices(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	kinds := deploy.NewKinds()
	if err := kinds.Register("echo", func(context.Context, deploy.Spec, int) (deploy.Instance, error) {
		return deploy.Instance{Handler: actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
			return r.Payload, nil
		})}, nil
	}); err != nil {
		t.Fatal(err)
	}
	f := parse(t, `
node: {name: solo, port: 0, labels: {role: engine}}
cluster: {name: test, heartbeat_interval: 50ms, suspect_after: 500ms, rebalance_interval: 200ms}
exchanges:
  - {name: orders, kind: req-resp, strategy: round-robin}
services:
  - {name: books, exchange: orders, kind: echo, mode: replicas, total: 3, keep_partial: true}
  - name: engine
    exchange: orders
    kind: echo
    mode: cluster-singleton
    service_tag: engine
    selector: {match_labels: {role: engine}}
`, config.WithKinds(kinds))
	if f.Cluster.RebalanceInterval != 200*time.Millisecond || !f.Services[0].KeepPartial {
		t.Errorf("read rebalance_interval %v, keep_partial %v", f.Cluster.RebalanceInterval, f.Services[0].KeepPartial)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := config.Start(ctx, f)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	for _, s := range []string{"books", "engine"} {
		if err := n.Await(ctx, s); err != nil {
			t.Errorf("Await(%s): %v", s, err)
		}
	}
	if got := len(n.Placements(ctx, "books")); got != 3 {
		t.Errorf("books runs %d instances, want 3", got)
	}
	r, err := actors.Call[*wrapperspb.StringValue](ctx, n.Broker(), "orders", wrapperspb.String("ping"), actors.WithServiceTag("engine"))
	if err != nil || r.GetValue() != "ping" {
		t.Errorf("call engine: %v, %v", r, err)
	}
}

// metrics.listen starts the node's metrics endpoint; an address the node
// cannot listen on is a *config.Error naming the key, and the node does
// not start (TestMain finds no goroutine left).
func TestStartMetrics(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := parse(t, "node: {name: solo}\nmetrics: {listen: \"192.0.2.1:9464\"}\n") // TEST-NET-1: not this host's
	if n, err := config.Start(ctx, f); err == nil {
		_ = n.Stop(ctx)
		t.Error("Start on a foreign address succeeded")
	} else {
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "metrics.listen" {
			t.Errorf("error %v, want a *config.Error of metrics.listen", err)
		}
		t.Logf("error: %v", err)
	}

	f = parse(t, "node: {name: solo}\nmetrics: {listen: \"127.0.0.1:0\"}\n")
	n, err := config.Start(ctx, f)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := n.MetricsAddress()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "bourse_exchange_handlers{") {
		t.Errorf("GET /metrics: %s, body without bourse_exchange_handlers:\n%s", resp.Status, body)
	}
	if err := n.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("the metrics endpoint still answers after Stop")
	}
}

// status.listen starts the node's status page; an address the node cannot
// listen on is a *config.Error naming the key, and the node does not start.
func TestStartStatus(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := parse(t, "node: {name: solo}\nstatus: {listen: \"192.0.2.1:8222\"}\n") // TEST-NET-1: not this host's
	if n, err := config.Start(ctx, f); err == nil {
		_ = n.Stop(ctx)
		t.Error("Start on a foreign address succeeded")
	} else {
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != "status.listen" {
			t.Errorf("error %v, want a *config.Error of status.listen", err)
		}
	}

	f = parse(t, "node: {name: solo}\nstatus: {listen: \"127.0.0.1:0\"}\nexchanges: [{name: orders, kind: req-resp}]\n")
	n, err := config.Start(ctx, f)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	addr := n.StatusAddress()
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"name": "solo"`, `"name": "orders"`, `"alive": true`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET /api/status: %s, lacks %s:\n%s", resp.Status, want, body)
		}
	}
	if err := n.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/api/status"); err == nil {
		t.Error("the status page still answers after Stop")
	}
}
