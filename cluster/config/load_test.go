package config_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/cluster/consul"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/strategies"
)

func parse(t *testing.T, yaml string, opts ...config.Option) *config.File {
	t.Helper()
	f, err := config.Parse([]byte(yaml), "test.yaml", append([]config.Option{config.WithLogOutput(io.Discard)}, opts...)...)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParseEverything(t *testing.T) {
	f := parse(t, `
node: {name: md-1, host: 10.0.0.7, port: 7101}
cluster:
  name: trading
  heartbeat_interval: 100ms
  suspect_after: 2s
  discovery:
    provider: static
    peers: ["10.0.0.8:7101", "10.0.0.9:7101"]
broker: {max_redirects: 4, workers: 12, handlers: {concurrency: 4, queue: 64}}
exchanges:
  - name: orders
    kind: req-resp
    strategy: sticky
    params: {load_factor: 1.5, partitions: 512}
  - {name: prices, kind: pub-sub}
  - {name: audit, kind: req-resp}
log: {level: debug, format: json}
`)
	c := f.Cluster
	if c.Node != "md-1" || c.Host != "10.0.0.7" || c.Port != 7101 || c.Cluster != "trading" {
		t.Errorf("node = %s@%s:%d in %s", c.Node, c.Host, c.Port, c.Cluster)
	}
	if c.HeartbeatInterval != 100*time.Millisecond || c.SuspectAfter != 2*time.Second {
		t.Errorf("timings = %v, %v", c.HeartbeatInterval, c.SuspectAfter)
	}
	if c.Exchange.MaxRedirects != 4 || c.Exchange.Workers != 12 || c.Exchange.Strategies == nil ||
		c.Exchange.Handlers != (exchange.HandlerLimits{Concurrency: 4, Queue: 64}) {
		t.Errorf("exchange config = %+v", c.Exchange)
	}
	d, ok := c.Discovery.(*static.Discovery)
	if !ok {
		t.Fatalf("Discovery is %T, want *static.Discovery", c.Discovery)
	}
	if got := d.Peers(); !slices.Equal(got, []string{"10.0.0.8:7101", "10.0.0.9:7101"}) {
		t.Errorf("peers = %v", got)
	}
	want := []exchange.Spec{
		{Name: "orders", Kind: exchange.ReqResp, Strategy: "sticky", Params: strategies.Params{"load_factor": 1.5, "partitions": 512}},
		{Name: "prices", Kind: exchange.PubSub},
		{Name: "audit", Kind: exchange.ReqResp, Strategy: exchange.DefaultStrategy},
	}
	if got, w := specsString(f.Exchanges), specsString(want); got != w {
		t.Errorf("exchanges:\n got %s\nwant %s", got, w)
	}
	if f.Log.Level != slog.LevelDebug || f.Log.Format != "json" || !c.Logger.Enabled(t.Context(), slog.LevelDebug) {
		t.Errorf("log = %+v", f.Log)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// specsString renders specs for comparison; fmt prints maps sorted by key.
func specsString(specs []exchange.Spec) string {
	var b strings.Builder
	for _, s := range specs {
		fmt.Fprintf(&b, "%s/%v/%s %v; ", s.Name, s.Kind, s.Strategy, s.Params)
	}
	return b.String()
}

func TestParseDefaults(t *testing.T) {
	f := parse(t, "log: {level: info}") // an empty file is an error (TestFileThatSetsNothing)
	def := cluster.DefaultConfig()
	c := f.Cluster
	if c.Cluster != def.Cluster || c.Host != def.Host || c.Port != 0 || c.Node == "" {
		t.Errorf("defaults: %s@%s:%d in %s", c.Node, c.Host, c.Port, c.Cluster)
	}
	if c.DataPort != 0 {
		t.Errorf("default data port = %d, want 0 (a free port)", c.DataPort)
	}
	if c.HeartbeatInterval != cluster.DefaultHeartbeatInterval || c.SuspectAfter != cluster.DefaultSuspectAfter {
		t.Errorf("timings = %v, %v", c.HeartbeatInterval, c.SuspectAfter)
	}
	if c.Discovery != nil || f.Discovery.Provider != config.ProviderNone {
		t.Errorf("discovery = %T %q, want none", c.Discovery, f.Discovery.Provider)
	}
	if c.Exchange.MaxRedirects != exchange.DefaultConfig().MaxRedirects || len(f.Exchanges) != 0 {
		t.Errorf("exchange layer = %+v, exchanges %v", c.Exchange, f.Exchanges)
	}
	if f.Log.Level != slog.LevelInfo || f.Log.Format != "text" {
		t.Errorf("log = %+v", f.Log)
	}
}

func TestParseConsul(t *testing.T) {
	f := parse(t, `
cluster:
  discovery:
    provider: consul
    peers: [ignored:1] # another provider's settings are not read
    consul: {address: 127.0.0.1:8500, token: secret, ttl: 6s, refresh_interval: 1s, deregister_after: 2m, wait_time: 5s}
`)
	if _, ok := f.Cluster.Discovery.(*consul.Discovery); !ok {
		t.Fatalf("Discovery is %T, want *consul.Discovery", f.Cluster.Discovery)
	}
	c := f.Discovery.Consul
	if c.Address != "127.0.0.1:8500" || c.Token != "secret" || c.TTL != 6*time.Second ||
		c.RefreshInterval != time.Second || c.DeregisterAfter != 2*time.Minute || c.WaitTime != 5*time.Second ||
		c.Logger != f.Cluster.Logger {
		t.Errorf("consul config = %+v", c)
	}
}

// Precedence: defaults < file < environment < WithOverride.
func TestPrecedence(t *testing.T) {
	yaml := `
node: {name: from-file, host: 127.0.0.1, port: 7101}
cluster: {name: file-cluster, discovery: {provider: static, peers: ["127.0.0.1:7102"]}}
log: {level: warn}
`
	t.Setenv("BOURSE_NODE_PORT", "7201")
	t.Setenv("BOURSE_NODE_HOST", "127.0.0.2")
	t.Setenv("BOURSE_CLUSTER_SUSPECT_AFTER", "3s")
	t.Setenv("BOURSE_DISCOVERY_PEERS", "127.0.0.1:7202, 127.0.0.1:7203")
	t.Setenv("BOURSE_LOG_LEVEL", "error")
	t.Setenv("BOURSE_NODE_NAME", "") // empty variables are ignored
	f := parse(t, yaml, config.WithOverride(func(f *config.File) { f.Cluster.Port = 7301 }))
	c := f.Cluster
	checks := []struct {
		what      string
		got, want any
	}{
		{"node.name (file)", c.Node, "from-file"},
		{"node.host (env over file)", c.Host, "127.0.0.2"},
		{"node.port (override over env)", c.Port, 7301},
		{"cluster.name (file)", c.Cluster, "file-cluster"},
		{"cluster.suspect_after (env over default)", c.SuspectAfter, 3 * time.Second},
		{"cluster.heartbeat_interval (default)", c.HeartbeatInterval, cluster.DefaultHeartbeatInterval},
		{"cluster.discovery.peers (env)", strings.Join(f.Discovery.Peers, ","), "127.0.0.1:7202,127.0.0.1:7203"},
		{"log.level (env)", f.Log.Level, slog.LevelError},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestParseDataPort(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want int
	}{
		{name: "unset", yaml: "node: {port: 7101}", want: 0},
		{name: "0 picks a free port", yaml: "node: {port: 7101, data_port: 0}", want: 0},
		{name: "a port", yaml: "node: {port: 7101, data_port: 7001}", want: 7001},
		{name: "a port as a string", yaml: `node: {port: 7101, data_port: "7001"}`, want: 7001},
		{name: "-1 turns the link off", yaml: "node: {port: 7101, data_port: -1}", want: cluster.DataPortOff},
		{name: "both 0", yaml: "node: {port: 0, data_port: 0}", want: 0},
		{name: "case-insensitive key", yaml: "node: {Data_Port: 7001}", want: 7001},
		{name: "env over default", yaml: "node: {port: 7101}", env: map[string]string{"BOURSE_NODE_DATA_PORT": "7201"}, want: 7201},
		{name: "env over file", yaml: "node: {port: 7101, data_port: 7001}", env: map[string]string{"BOURSE_NODE_DATA_PORT": " 7201 "}, want: 7201},
		{name: "env turns the link off", yaml: "node: {port: 7101, data_port: 7001}", env: map[string]string{"BOURSE_NODE_DATA_PORT": "-1"}, want: cluster.DataPortOff},
		{name: "empty env is ignored", yaml: "node: {port: 7101, data_port: 7001}", env: map[string]string{"BOURSE_NODE_DATA_PORT": ""}, want: 7001},
		{name: "env port moves off the data port", yaml: "node: {port: 7001, data_port: 7001}", env: map[string]string{"BOURSE_NODE_PORT": "7101"}, want: 7001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f := parse(t, tt.yaml)
			if f.Cluster.DataPort != tt.want {
				t.Errorf("DataPort = %d, want %d", f.Cluster.DataPort, tt.want)
			}
			if err := f.Cluster.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// Code has the last word on the data port too.
func TestDataPortOverride(t *testing.T) {
	t.Setenv("BOURSE_NODE_DATA_PORT", "7201")
	f := parse(t, "node: {port: 7101, data_port: 7001}",
		config.WithOverride(func(f *config.File) { f.Cluster.DataPort = cluster.DataPortOff }))
	if f.Cluster.DataPort != cluster.DataPortOff {
		t.Errorf("DataPort = %d, want %d (the override's)", f.Cluster.DataPort, cluster.DataPortOff)
	}
}

// The environment can switch providers; the file's settings of the other
// one are then not read.
func TestEnvSwitchesProvider(t *testing.T) {
	t.Setenv("BOURSE_DISCOVERY_PROVIDER", "consul")
	t.Setenv("BOURSE_CONSUL_ADDRESS", "127.0.0.1:18500")
	t.Setenv("BOURSE_CONSUL_TTL", "9s")
	f := parse(t, `cluster: {discovery: {provider: static, peers: ["127.0.0.1:7102"]}}`)
	if _, ok := f.Cluster.Discovery.(*consul.Discovery); !ok {
		t.Fatalf("Discovery is %T, want *consul.Discovery", f.Cluster.Discovery)
	}
	if c := f.Discovery.Consul; c.Address != "127.0.0.1:18500" || c.TTL != 9*time.Second {
		t.Errorf("consul config = %+v", c)
	}
}

func TestKeysAreCaseInsensitive(t *testing.T) {
	f := parse(t, "Node: {Name: md-1, PORT: 7101}\nExchanges:\n  - {Name: orders, Kind: req-resp}\n")
	if f.Cluster.Node != "md-1" || f.Cluster.Port != 7101 || len(f.Exchanges) != 1 {
		t.Errorf("got node %s:%d, exchanges %v", f.Cluster.Node, f.Cluster.Port, f.Exchanges)
	}
}

// A strategy made of code is registered under a name and named in the file.
func TestWithStrategies(t *testing.T) {
	reg := strategies.Builtin()
	byUser := func(r strategies.Request) uint64 { return uint64(len(r.Key)) }
	if err := reg.Register("by-user", strategies.StickyFun(byUser)); err != nil {
		t.Fatal(err)
	}
	yaml := "exchanges: [{name: sessions, kind: req-resp, strategy: by-user, params: {vnodes: 64}}]"
	f := parse(t, yaml, config.WithStrategies(reg))
	if f.Cluster.Exchange.Strategies != reg {
		t.Errorf("the node's registry is not the one given")
	}
	if s := f.Exchanges[0]; s.Strategy != "by-user" || s.Params["vnodes"] != 64 {
		t.Errorf("spec = %+v", s)
	}
	// Without the registry, the name is unknown.
	_, err := config.Parse([]byte(yaml), "test.yaml", config.WithLogOutput(io.Discard))
	checkError(t, err, "test.yaml", "exchanges[0].strategy", 1, `unknown strategy "by-user" (known: consensus,`)
}

// The sample file of examples/node must stay loadable.
func TestSampleFile(t *testing.T) {
	f, err := config.Load("../../examples/node/node.yaml", config.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if f.Cluster.Node != "md-1" || f.Discovery.Provider != config.ProviderStatic || len(f.Exchanges) != 3 {
		t.Errorf("sample: node %s, discovery %s, exchanges %v", f.Cluster.Node, f.Discovery.Provider, specsString(f.Exchanges))
	}
}

// TestLeaseDurationKey: cluster.lease_duration sets the leader lease, from
// the file or the environment, and a bad one names its key.
func TestLeaseDurationKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.yaml")
	yaml := "node: {name: n1}\ncluster:\n  name: c\n  suspect_after: 1s\n  lease_duration: 300ms\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Cluster.Exchange.LeaseDuration; got != 300*time.Millisecond {
		t.Fatalf("lease %v, want 300ms", got)
	}
	t.Setenv("BOURSE_CLUSTER_LEASE_DURATION", "2s")
	_, err = config.Load(path)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "cluster.lease_duration" {
		t.Fatalf("lease above suspect_after from the environment: %v, want an error naming cluster.lease_duration", err)
	}
}

// TestNodeLabels: node.labels is read as written, case and dots kept (viper
// would lowercase and split them), values taken as their text.
func TestNodeLabels(t *testing.T) {
	f := parse(t, `
node:
  name: n1
  labels:
    Zone: eu-west-1a
    bourse.io/disk: ssd
    rack: 7
`)
	want := map[string]string{"Zone": "eu-west-1a", "bourse.io/disk": "ssd", "rack": "7"}
	if !maps.Equal(f.Cluster.Labels, want) {
		t.Errorf("labels %v, want %v", f.Cluster.Labels, want)
	}
	if f := parse(t, "node: {name: n1}\n"); f.Cluster.Labels != nil {
		t.Errorf("no labels: got %v, want nil", f.Cluster.Labels)
	}
	if f := parse(t, "node: {name: n1, labels: }\n"); f.Cluster.Labels != nil {
		t.Errorf("empty labels: got %v, want nil", f.Cluster.Labels)
	}
	// The sample file shows them.
	sample, err := config.Load("../../examples/node/node.yaml", config.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if sample.Cluster.Labels["zone"] == "" {
		t.Errorf("sample labels %v, want a zone", sample.Cluster.Labels)
	}
}

// TestSubscriberKeys: broker.subscribers sets the default bound on each
// subscriber's pending publications and its overflow policy; a bad one is
// reported at its key.
func TestSubscriberKeys(t *testing.T) {
	f := parse(t, "node: {name: n1}\ncluster: {name: c}\nbroker:\n  subscribers: {pending: 1000, overflow: drop-oldest}\n")
	if got := f.Cluster.Exchange.Subscribers; got.Pending != 1000 || got.Overflow != exchange.DropOldest {
		t.Errorf("subscribers = %+v, want 1000, drop-oldest", got)
	}
	if got := parse(t, "node: {name: n1}\ncluster: {name: c}\n").Cluster.Exchange.Subscribers; got != (exchange.SubscriberConfig{}) {
		t.Errorf("default subscribers = %+v, want the zero value (65536, drop-newest)", got)
	}
	for _, tc := range []struct{ yaml, key string }{
		{"broker:\n  subscribers: {overflow: drop}\n", "broker.subscribers.overflow"},
		{"broker:\n  subscribers: {pending: -1}\n", "broker.subscribers.pending"},
	} {
		_, err := config.Parse([]byte("node: {name: n1}\ncluster: {name: c}\n"+tc.yaml), "test.yaml", config.WithLogOutput(io.Discard))
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("%q: %v, want an error naming %s", tc.yaml, err, tc.key)
		}
	}
}
