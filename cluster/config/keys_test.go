package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/consul"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/exchange"
)

// TestEveryCoreRuleHasAKey breaks each rule of the core's validation once
// and checks that the field its error names has a key in the table, so
// that the loader reports it under the file's key. A rule added to the
// core belongs here too.
func TestEveryCoreRuleHasAKey(t *testing.T) {
	valid := func() cluster.Config {
		c := cluster.DefaultConfig()
		c.Node = "n"
		return c
	}
	clusterCase := func(name, key string, change func(*cluster.Config)) struct {
		name, key string
		err       error
	} {
		c := valid()
		change(&c)
		return struct {
			name, key string
			err       error
		}{name, key, c.Validate()}
	}
	consulErr := func(c consul.Config) error {
		if c.Address == "" {
			c.Address = "127.0.0.1:8500"
		}
		return c.Validate()
	}
	_, peerErr := static.Parse([]string{"a:1", "nope"})
	svc := func(change func(*deploy.Spec)) error {
		s := deploy.Spec{Name: "s", Exchange: "x", Kind: "k", Mode: deploy.ModeReplicas, Total: 1}
		change(&s)
		return s.Validate()
	}
	tests := []struct {
		name, key string
		err       error
	}{
		clusterCase("cluster", "cluster.name", func(c *cluster.Config) { c.Cluster = "" }),
		clusterCase("node", "node.name", func(c *cluster.Config) { c.Node = "" }),
		clusterCase("host", "node.host", func(c *cluster.Config) { c.Host = "" }),
		clusterCase("unspecified host", "node.host", func(c *cluster.Config) { c.Host = "0.0.0.0" }),
		clusterCase("port", "node.port", func(c *cluster.Config) { c.Port = 70000 }),
		clusterCase("data port", "node.data_port", func(c *cluster.Config) { c.DataPort = -2 }),
		clusterCase("data port is port", "node.data_port", func(c *cluster.Config) { c.Port, c.DataPort = 7101, 7101 }),
		clusterCase("metrics listen", "metrics.listen", func(c *cluster.Config) { c.MetricsListen = "localhost" }),
		clusterCase("metrics protoactor", "metrics.protoactor", func(c *cluster.Config) { c.MetricsProtoactor = true }),
		clusterCase("status listen", "status.listen", func(c *cluster.Config) { c.StatusListen = "localhost" }),
		clusterCase("labels", `node.labels["zone"]`, func(c *cluster.Config) { c.Labels = map[string]string{"zone": "-eu"} }),
		clusterCase("heartbeat", "cluster.heartbeat_interval", func(c *cluster.Config) { c.HeartbeatInterval = time.Millisecond }),
		clusterCase("join timeout", "cluster.join_timeout", func(c *cluster.Config) { c.JoinTimeout = -1 }),
		clusterCase("suspect", "cluster.suspect_after", func(c *cluster.Config) { c.SuspectAfter = c.HeartbeatInterval }),
		clusterCase("lease", "cluster.lease_duration", func(c *cluster.Config) { c.Exchange.LeaseDuration = time.Millisecond }),
		clusterCase("max redirects", "broker.max_redirects", func(c *cluster.Config) { c.Exchange.MaxRedirects = 65 }),
		clusterCase("workers", "broker.workers", func(c *cluster.Config) { c.Exchange.Workers = -1 }),
		clusterCase("handlers concurrency", "broker.handlers.concurrency", func(c *cluster.Config) { c.Exchange.Handlers.Concurrency = -1 }),
		clusterCase("handlers queue", "broker.handlers.queue", func(c *cluster.Config) { c.Exchange.Handlers.Queue = -2 }),
		{"peer", "cluster.discovery.peers[1]", peerErr},
		{"consul address", "cluster.discovery.consul.address", consul.Config{Address: "x"}.Validate()},
		{"consul ttl", "cluster.discovery.consul.ttl", consulErr(consul.Config{TTL: time.Microsecond})},
		{"consul refresh", "cluster.discovery.consul.refresh_interval", consulErr(consul.Config{RefreshInterval: time.Hour})},
		{"consul deregister", "cluster.discovery.consul.deregister_after", consulErr(consul.Config{DeregisterAfter: time.Second})},
		{"consul wait", "cluster.discovery.consul.wait_time", consulErr(consul.Config{WaitTime: time.Hour})},
		{"spec name", "exchanges[3].name", exchange.Spec{Kind: exchange.PubSub}.Validate()},
		{"spec long name", "exchanges[3].name", exchange.Spec{Name: strings.Repeat("x", 256), Kind: exchange.PubSub}.Validate()},
		{"spec kind", "exchanges[3].kind", exchange.Spec{Name: "x"}.Validate()},
		{"spec strategy", "exchanges[3].strategy", exchange.Spec{Name: "x", Kind: exchange.PubSub, Strategy: "sticky"}.Validate()},
		{"service name", "services[3].name", svc(func(s *deploy.Spec) { s.Name = "" })},
		{"service exchange", "services[3].exchange", svc(func(s *deploy.Spec) { s.Exchange = "" })},
		{"service kind", "services[3].kind", svc(func(s *deploy.Spec) { s.Kind = "a b" })},
		{"service mode", "services[3].mode", svc(func(s *deploy.Spec) { s.Mode = "x" })},
		{"service total", "services[3].total", svc(func(s *deploy.Spec) { s.Total = 0 })},
		{"service max per node", "services[3].max_per_node", svc(func(s *deploy.Spec) { s.MaxPerNode = -1 })},
		{"service tag", "services[3].service_tag", svc(func(s *deploy.Spec) { s.ServiceTag = strings.Repeat("t", 256) })},
		{"service params", "services[3].params", svc(func(s *deploy.Spec) { s.Params = map[string]string{"": ""} })},
		{"service label", `services[3].selector.match_labels["a"]`, svc(func(s *deploy.Spec) { s.Selector.MatchLabels = map[string]string{"a": ""} })},
		{"service expression", "services[3].selector.match_expressions[0].Op", svc(func(s *deploy.Spec) {
			s.Selector.MatchExpressions = []deploy.Requirement{{Key: "a", Op: "x"}}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fe *errs.FieldError
			if !errors.As(tt.err, &fe) {
				t.Fatalf("error %v is not an *errs.FieldError", tt.err)
			}
			if got := keyOf(fe.Field, 3); got != tt.key {
				t.Errorf("keyOf(%q) = %q, want %q", fe.Field, got, tt.key)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	for field, want := range map[string]string{
		"cluster.Config.Port":            "node.port",
		"cluster.Config.PortX":           "", // a prefix only at a boundary
		"cluster.Config.Exchange.Node":   "node.name",
		"static.Peers[12]":               "cluster.discovery.peers[12]",
		"exchange.Spec.Params.vnodes":    "exchanges[3].params.vnodes",
		"cluster.Config.NewRule":         "",
		"something.else.Entirely":        "",
		"consul.Config.RefreshInterval":  "cluster.discovery.consul.refresh_interval",
		"cluster.Config.Exchange.Unseen": "",
	} {
		if got := keyOf(field, 3); got != want {
			t.Errorf("keyOf(%q) = %q, want %q", field, got, want)
		}
	}
}
