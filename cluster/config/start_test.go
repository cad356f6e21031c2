package config_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/exchange"
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
