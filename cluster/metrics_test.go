package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/errs"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestClusterMetrics starts node a with metrics on, protoactor's too
// (children b and c without), sends requests and publications from a, scrapes a's /metrics
// over HTTP and checks that every metric of docs/configuration.md's list is
// there with a real value.
func TestClusterMetrics(t *testing.T) {
	if !clustertest.Isolate(t) {
		return
	}
	x := startExClusterWith(t, "static", 1, 1, 1, func(cfg *cluster.Config) {
		cfg.MetricsListen = "127.0.0.1:0"
		cfg.MetricsProtoactor = true
	})
	a := x.a
	b := a.Broker()
	ctx := testCtx(t)
	var local atomic.Int64
	if _, err := b.SubscribeFunc(ctx, "ps", "t.#", func(*actors.Publication) { local.Add(1) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a's table of ps lists b's and c's subscriptions", func() bool {
		ns, _ := b.Subscriptions("ps")
		return len(ns) == 3
	})
	const n = 50
	for range n {
		if _, err := request(ctx, b, "rr"); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "ps", "t.x", wrapperspb.String("p")); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "ps", "nobody.listens", wrapperspb.String("p")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Request(ctx, "undeclared", wrapperspb.String("x")); !errors.Is(err, actors.ErrUnknownExchange) {
		t.Fatalf("request to an undeclared exchange: %v, want ErrUnknownExchange", err)
	}
	waitFor(t, 5*time.Second, "a's subscriber got every publication", func() bool { return local.Load() == n })

	addr := a.MetricsAddress()
	if addr == "" {
		t.Fatal("MetricsAddress is empty with MetricsListen set")
	}
	// The data link's round-trip time needs a ping and its pong (one a
	// second) to each of b and c.
	var peers []string
	for _, m := range a.Members() {
		if m.Node != "a" {
			peers = append(peers, m.Data)
		}
	}
	waitFor(t, 5*time.Second, "a round-trip time to b's and c's data links", func() bool {
		n := 0
		for _, p := range b.LinkPeers() {
			if p.SmoothedRTT > 0 {
				n++
			}
		}
		return n == 2
	})
	body := scrape(t, "http://"+addr+"/metrics")
	// Each metric, as Prometheus names it, with a label that must be on
	// one of its samples, whose value must be more than 0.
	for _, want := range []struct{ metric, label string }{
		{"messaging_client_sent_messages_total", `messaging_operation_name="request"`},
		{"messaging_client_sent_messages_total", `messaging_operation_name="publish"`},
		{"messaging_client_sent_messages_total", `error_type="unknown_exchange"`},
		{"messaging_client_operation_duration_seconds_count", `messaging_destination_name="rr"`},
		{"messaging_client_operation_duration_seconds_bucket", `le="0.0001"`},
		{"messaging_client_consumed_messages_total", `messaging_destination_name="ps"`},
		{"messaging_process_duration_seconds_count", `messaging_operation_name="process"`},
		{"messaging_process_duration_seconds_count", `messaging_operation_name="deliver"`},
		{"bourse_process_messages_total", `messaging_operation_name="process"`},
		{"bourse_process_messages_total", `messaging_operation_name="deliver"`},
		{"bourse_exchange_handlers", `bourse_handler_node="b"`},
		{"bourse_exchange_leader_changes_total", `messaging_destination_name="cons"`},
		{"bourse_publish_network_messages_total", `messaging_destination_name="ps"`},
		{"bourse_dropped_messages_total", `bourse_drop_reason="no_subscribers"`},
		{"bourse_link_frames_total", `bourse_link_direction="sent"`},
		{"bourse_link_frames_total", `bourse_link_direction="received"`},
		{"bourse_link_bytes_total", `bourse_link_direction="sent"`},
		{"bourse_link_writes_total", `messaging_system="bourse"`},
		{"protoactor_actor_message_receive_duration_seconds_count", ``},
	} {
		if v, ok := sample(body, want.metric, want.label); !ok {
			t.Errorf("no sample of %s with %s", want.metric, want.label)
		} else if v <= 0 {
			t.Errorf("%s{%s} = %v, want more than 0", want.metric, want.label, v)
		}
	}
	// The round-trip time to each of b and c, in seconds: more than 0,
	// less than a second on loopback.
	if len(peers) != 2 {
		t.Errorf("a's members other than itself have data links %q, want b's and c's", peers)
	}
	for _, p := range peers {
		if v, ok := sample(body, "bourse_link_round_trip_time_seconds", `bourse_link_peer="`+p+`"`); !ok || v <= 0 || v >= 1 {
			t.Errorf("bourse_link_round_trip_time_seconds{bourse_link_peer=%q} = %v (present: %v), want in (0, 1)", p, v, ok)
		} else {
			t.Logf("round-trip time to %s: %.0f µs", p, v*1e6)
		}
	}
	// Present, zero here: nothing broke, nobody was ejected.
	for _, m := range []string{"bourse_link_broken_connections_total", "bourse_probation_events_total", "bourse_probation_out"} {
		if _, ok := sample(body, m, ""); !ok {
			t.Errorf("no sample of %s", m)
		}
	}
	// Network messages per publication: 2 (b and c subscribe to t.#),
	// over the publications of both keys.
	net, _ := sample(body, "bourse_publish_network_messages_total", `messaging_destination_name="ps"`)
	if net != 2*n {
		t.Errorf("network messages of ps: %v, want %d", net, 2*n)
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
}

// scrape GETs url and returns the body.
func scrape(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

// sample finds the largest value of metric among its samples in body (the
// Prometheus text format) whose labels contain label.
func sample(body, metric, label string) (float64, bool) {
	best, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, "{")
		if strings.HasPrefix(line, "#") {
			continue
		}
		labels, value := "", ""
		if rest != "" {
			labels, value, _ = strings.Cut(rest, "} ")
		} else {
			name, value, _ = strings.Cut(line, " ")
		}
		if name != metric || !strings.Contains(labels, label) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		if !found || v > best {
			best, found = v, true
		}
	}
	return best, found
}

// TestMetricsListenErrors: a bad metrics address is a *errs.FieldError
// naming the field, from Validate (syntax) or Start (cannot listen).
func TestMetricsListenErrors(t *testing.T) {
	cfg := testConfig("a")
	cfg.MetricsListen = "9464"
	err := cfg.Validate()
	var fe *errs.FieldError
	if !errors.As(err, &fe) || fe.Field != "cluster.Config.MetricsListen" || !errors.Is(err, cluster.ErrInvalidConfig) {
		t.Fatalf("Validate with MetricsListen %q: %v, want a FieldError of cluster.Config.MetricsListen", cfg.MetricsListen, err)
	}
	t.Run("cannot listen", func(t *testing.T) {
		if !clustertest.Isolate(t) {
			return
		}
		cfg := testConfig("a")
		cfg.MetricsListen = "192.0.2.1:9464" // TEST-NET-1: not this host's
		_, err := cluster.Start(testCtx(t), cfg)
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "cluster.Config.MetricsListen" {
			t.Fatalf("Start with MetricsListen %q: %v, want a FieldError of cluster.Config.MetricsListen", cfg.MetricsListen, err)
		}
		t.Logf("error: %v", err)
	})
}
