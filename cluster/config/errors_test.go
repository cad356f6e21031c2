package config_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/cluster/consul"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/strategies"
)

// base is a valid file the error cases change one thing of.
const base = `
node: {name: md-1, host: 127.0.0.1, port: 0}
cluster:
  name: trading
  heartbeat_interval: 200ms
  suspect_after: 1s
exchanges:
  - {name: orders, kind: req-resp, strategy: sticky}
  - {name: prices, kind: pub-sub}
  - {name: matching, kind: req-resp, strategy: consensus}
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		key  string
		line int
		want []string // substrings of the message
	}{
		{
			name: "unknown strategy",
			yaml: strings.Replace(base, "strategy: consensus", "strategy: round_robin", 1),
			key:  "exchanges[2].strategy", line: 10,
			want: []string{`unknown strategy "round_robin"`, "known: consensus, consensus-round-robin, default, fun, local-first, round-robin, sticky, sticky-fun", `did you mean "round-robin"?`},
		},
		{
			name: "unknown kind",
			yaml: strings.Replace(base, "kind: pub-sub", "kind: fanout", 1),
			key:  "exchanges[1].kind", line: 9,
			want: []string{`unknown kind "fanout" (known: pub-sub, req-resp)`},
		},
		{
			name: "missing kind",
			yaml: strings.Replace(base, "kind: pub-sub", "", 1),
			key:  "exchanges[1].kind", line: 9,
			want: []string{"missing (known: pub-sub, req-resp)"},
		},
		{
			name: "duplicate exchange name",
			yaml: strings.Replace(base, "name: matching", "name: orders", 1),
			key:  "exchanges[2].name", line: 10,
			want: []string{`duplicate exchange name "orders" (exchanges[0] has it)`},
		},
		{
			name: "missing exchange name",
			yaml: strings.Replace(base, "name: prices, ", "", 1),
			key:  "exchanges[1].name", line: 9,
			want: []string{"missing: every exchange needs a name"},
		},
		{
			name: "wrong type",
			yaml: strings.Replace(base, "port: 0", `port: "abc"`, 1),
			key:  "node.port", line: 2,
			want: []string{`want an integer in 0..65535, got the string "abc"`},
		},
		{
			name: "wrong type from the environment",
			yaml: base,
			env:  map[string]string{"BOURSE_NODE_PORT": "seven"},
			key:  "node.port", line: 0,
			want: []string{`from BOURSE_NODE_PORT: want an integer in 0..65535, got the string "seven"`},
		},
		{
			name: "port out of range",
			yaml: strings.Replace(base, "port: 0", "port: 70000", 1),
			key:  "node.port", line: 2,
			want: []string{"70000 is out of range 0..65535"},
		},
		{
			name: "data port of the wrong type",
			yaml: strings.Replace(base, "port: 0", `port: 0, data_port: "abc"`, 1),
			key:  "node.data_port", line: 2,
			want: []string{`want an integer in -1..65535, got the string "abc"`},
		},
		{
			name: "data port of the wrong type from the environment",
			yaml: base,
			env:  map[string]string{"BOURSE_NODE_DATA_PORT": "off"},
			key:  "node.data_port", line: 0,
			want: []string{`from BOURSE_NODE_DATA_PORT: want an integer in -1..65535, got the string "off"`},
		},
		{
			name: "data port below -1",
			yaml: strings.Replace(base, "port: 0", "port: 0, data_port: -2", 1),
			key:  "node.data_port", line: 2,
			want: []string{"-2 is out of range -1..65535"},
		},
		{
			name: "data port out of range",
			yaml: strings.Replace(base, "port: 0", "port: 0, data_port: 70000", 1),
			key:  "node.data_port", line: 2,
			want: []string{"70000 is out of range -1..65535"},
		},
		{
			name: "data port out of range from the environment",
			yaml: base,
			env:  map[string]string{"BOURSE_NODE_DATA_PORT": "70000"},
			key:  "node.data_port", line: 0,
			want: []string{"from BOURSE_NODE_DATA_PORT: 70000 is out of range -1..65535"},
		},
		{
			name: "data port the same as port",
			yaml: strings.Replace(base, "port: 0", "port: 7101,\n       data_port: 7101", 1),
			key:  "node.data_port", line: 3,
			want: []string{"is 7101, the same as the node's port: the data link needs a port of its own"},
		},
		{
			name: "data port from the environment the same as port",
			yaml: strings.Replace(base, "port: 0", "port: 7101", 1),
			env:  map[string]string{"BOURSE_NODE_DATA_PORT": "7101"},
			key:  "node.data_port", line: 0,
			want: []string{"from BOURSE_NODE_DATA_PORT: is 7101, the same as the node's port:"},
		},
		{
			name: "port from the environment the same as data port",
			yaml: strings.Replace(base, "port: 0", "port: 0, data_port: 7201", 1),
			env:  map[string]string{"BOURSE_NODE_PORT": "7201"},
			key:  "node.data_port", line: 2,
			want: []string{"is 7201, the same as the node's port:"},
		},
		{
			name: "missing consul address",
			yaml: withDiscovery(`{provider: consul, consul: {ttl: 3s}}`),
			key:  "cluster.discovery.consul.address", line: 7,
			want: []string{"missing: provider consul needs the agent's host:port"},
		},
		{
			name: "bad consul address",
			yaml: withDiscovery(`{provider: consul, consul: {address: "http://127.0.0.1:8500"}}`),
			key:  "cluster.discovery.consul.address", line: 7,
			want: []string{`has a scheme, want host:port`},
		},
		{
			name: "consul refresh not below ttl",
			yaml: withDiscovery(`{provider: consul, consul: {address: 127.0.0.1:8500, ttl: 3s, refresh_interval: 5s}}`),
			key:  "cluster.discovery.consul.refresh_interval", line: 7,
			want: []string{"must be shorter than the TTL"},
		},
		{
			name: "unknown discovery provider",
			yaml: withDiscovery(`{provider: etcd}`),
			key:  "cluster.discovery.provider", line: 7,
			want: []string{`unknown provider "etcd" (known: consul, none, static)`},
		},
		{
			name: "peers without provider",
			yaml: withDiscovery(`{peers: [127.0.0.1:7101]}`),
			key:  "cluster.discovery.provider", line: 7,
			want: []string{"missing, and cluster.discovery.peers is set (say provider: static)"},
		},
		{
			name: "exchange name too long (a rule of exchange.Spec.Validate)",
			yaml: strings.Replace(base, "name: prices", "name: "+strings.Repeat("p", 256), 1),
			key:  "exchanges[1].name", line: 9,
			want: []string{"is longer than 255 bytes"},
		},
		{
			name: "bad peer",
			yaml: withDiscovery(`{provider: static, peers: [127.0.0.1:7101, "127.0.0.1"]}`),
			key:  "cluster.discovery.peers[1]", line: 7,
			want: []string{`"127.0.0.1" is not host:port with a port in 1..65535`},
		},
		{
			name: "misspelt key in an exchange",
			yaml: strings.Replace(base, "kind: req-resp, strategy: sticky", "kind: req-resp, stratgy: sticky", 1),
			key:  "exchanges[0].stratgy", line: 8,
			want: []string{"unknown key (known: kind, name, params, strategy)", `did you mean "strategy"?`},
		},
		{
			name: "misspelt key in node",
			yaml: strings.Replace(base, "host: 127.0.0.1", "hots: 127.0.0.1", 1),
			key:  "node.hots", line: 2,
			want: []string{"unknown key (known: data_port, host, labels, name, port)", `did you mean "host"?`},
		},
		{
			name: "misspelt data port key",
			yaml: strings.Replace(base, "port: 0", "port: 0, data-port: 7201", 1),
			key:  "node.data-port", line: 2,
			want: []string{"unknown key (known: data_port, host, labels, name, port)", `did you mean "data_port"?`},
		},
		{
			name: "unknown top-level key",
			yaml: base + "tracing: {port: 9090}\n",
			key:  "tracing", line: 11,
			want: []string{"unknown key (known: broker, cluster, exchanges, log, metrics, node, services, status)"},
		},
		{
			name: "unknown metrics key",
			yaml: base + "metrics: {port: 9090}\n",
			key:  "metrics.port", line: 11,
			want: []string{"unknown key (known: listen, protoactor)"},
		},
		{
			name: "metrics address without a port",
			yaml: base + "metrics: {listen: \"9464\"}\n",
			key:  "metrics.listen", line: 11,
			want: []string{`"9464" is not host:port`},
		},
		{
			name: "metrics protoactor not a bool",
			yaml: base + "metrics: {listen: \"127.0.0.1:0\", protoactor: maybe}\n",
			key:  "metrics.protoactor", line: 11,
			want: []string{`want true or false, got the string "maybe"`},
		},
		{
			name: "metrics protoactor without an address",
			yaml: base + "metrics: {protoactor: true}\n",
			key:  "metrics.protoactor", line: 11,
			want: []string{"without an address"},
		},
		{
			name: "status address without a port",
			yaml: base + "status: {listen: \"8222\"}\n",
			key:  "status.listen", line: 11,
			want: []string{`"8222" is not host:port`},
		},
		{
			name: "unknown status key",
			yaml: base + "status: {port: 8222}\n",
			key:  "status.port", line: 11,
			want: []string{"unknown key (known: listen)"},
		},
		{
			name: "misspelt consul key",
			yaml: withDiscovery(`{provider: consul, consul: {adress: 127.0.0.1:8500}}`),
			key:  "cluster.discovery.consul.adress", line: 7,
			want: []string{`did you mean "address"?`},
		},
		{
			name: "section that is not a mapping",
			yaml: "node: md-1\n",
			key:  "node", line: 1,
			want: []string{`want a mapping with keys data_port, host, labels, name, port, got the string "md-1"`},
		},
		{
			name: "exchanges that are not a list",
			yaml: "exchanges: {name: orders, kind: req-resp}\n",
			key:  "exchanges", line: 1,
			want: []string{"want a list, got a mapping"},
		},
		{
			name: "malformed YAML",
			yaml: "node:\n  name: md-1\n host: 127.0.0.1\n",
			key:  "", line: 3, // yaml.v3 says 2
			want: []string{"malformed YAML: did not find expected key"},
		},
		{
			name: "duplicate YAML key",
			yaml: "node:\n  name: md-1\n  name: md-2\n",
			key:  "", line: 3,
			want: []string{`malformed YAML: mapping key "name" already defined at line 2`},
		},
		{
			name: "document that is a list",
			yaml: "- node\n- cluster\n",
			key:  "", line: 1,
			want: []string{"malformed YAML: the document must be a mapping of keys"},
		},
		{
			name: "bad duration",
			yaml: strings.Replace(base, "heartbeat_interval: 200ms", "heartbeat_interval: 2 seconds", 1),
			key:  "cluster.heartbeat_interval", line: 5,
			want: []string{`want a duration such as "200ms" or "3s", got the string "2 seconds"`},
		},
		{
			name: "duration without a unit",
			yaml: strings.Replace(base, "suspect_after: 1s", "suspect_after: 1", 1),
			key:  "cluster.suspect_after", line: 6,
			want: []string{`want a duration with a unit, such as "200ms" or "3s", got the number 1`},
		},
		{
			name: "heartbeat too fast",
			yaml: strings.Replace(base, "heartbeat_interval: 200ms", "heartbeat_interval: 1ms", 1),
			key:  "cluster.heartbeat_interval", line: 5,
			want: []string{"is 1ms, want at least 10ms"},
		},
		{
			name: "suspect too soon",
			yaml: strings.Replace(base, "suspect_after: 1s", "suspect_after: 300ms", 1),
			key:  "cluster.suspect_after", line: 6,
			want: []string{"is 300ms, want more than twice the heartbeat interval (200ms)"},
		},
		{
			name: "bad strategy parameter",
			yaml: strings.Replace(base, "strategy: sticky}", "strategy: sticky, params: {load_factor: 0.5}}", 1),
			key:  "exchanges[0].params", line: 8,
			want: []string{"sticky: load_factor"},
		},
		{
			name: "unknown strategy parameter",
			yaml: strings.Replace(base, "strategy: sticky}", "strategy: sticky, params: {load_facter: 1.5}}", 1),
			key:  "exchanges[0].params", line: 8,
			want: []string{`unknown parameter "load_facter" (known: load_factor, partitions, vnodes)`},
		},
		{
			name: "sticky-fun from YAML",
			yaml: strings.Replace(base, "strategy: sticky}", "strategy: sticky-fun}", 1),
			key:  "exchanges[0].strategy", line: 8,
			want: []string{`"sticky-fun" needs a Go function, which YAML cannot give: register strategies.StickyFun(hash) under a name of your own`},
		},
		{
			name: "pub-sub with a strategy",
			yaml: strings.Replace(base, "kind: pub-sub", "kind: pub-sub, strategy: sticky", 1),
			key:  "exchanges[1].strategy", line: 9,
			want: []string{"pub-sub exchanges take no strategy"},
		},
		{
			name: "unknown log level",
			yaml: base + "log: {level: verbose}\n",
			key:  "log.level", line: 11,
			want: []string{`unknown value "verbose" (known: debug, error, info, warn)`},
		},
		{
			name: "unspecified host",
			yaml: strings.Replace(base, "host: 127.0.0.1", "host: 0.0.0.0", 1),
			key:  "node.host", line: 2,
			want: []string{`"0.0.0.0" is an unspecified address`},
		},
		{
			name: "max redirects out of range",
			yaml: base + "broker: {max_redirects: 100}\n",
			key:  "broker.max_redirects", line: 11,
			want: []string{"100 is out of range 0..64"},
		},
		{
			name: "handlers queue out of range",
			yaml: base + "broker: {handlers: {queue: -5}}\n",
			key:  "broker.handlers.queue", line: 11,
			want: []string{"-5 is out of range -1..16777216"},
		},
		{
			name: "workers out of range",
			yaml: base + "broker: {workers: -2}\n",
			key:  "broker.workers", line: 11,
			want: []string{"-2 is out of range 0..4096"},
		},
		{
			name: "label value empty",
			yaml: strings.Replace(base, "node: {name: md-1, host: 127.0.0.1, port: 0}", "node:\n  name: md-1\n  labels:\n    zone: eu\n    disk:\n", 1),
			key:  `node.labels["disk"]`, line: 6,
			want: []string{"want a single value, got nothing"},
		},
		{
			name: "label key with a bad prefix",
			yaml: strings.Replace(base, "node: {name: md-1, host: 127.0.0.1, port: 0}", "node:\n  name: md-1\n  labels:\n    zone: eu\n    Bourse.IO/disk: ssd\n", 1),
			key:  `node.labels["Bourse.IO/disk"]`, line: 6,
			want: []string{`key "Bourse.IO/disk": prefix "Bourse.IO" is not a DNS subdomain`, "want 1-63 letters"},
		},
		{
			name: "label value with a space",
			yaml: strings.Replace(base, "port: 0}", "port: 0, labels: {zone: eu west}}", 1),
			key:  `node.labels["zone"]`, line: 2,
			want: []string{`value "eu west" has ' ' at 2`},
		},
		{
			name: "labels not a mapping",
			yaml: strings.Replace(base, "port: 0}", "port: 0, labels: [zone, eu]}", 1),
			key:  "node.labels", line: 2,
			want: []string{"want a mapping, got a list"},
		},
		{
			name: "empty node name",
			yaml: strings.Replace(base, "name: md-1", `name: ""`, 1),
			key:  "node.name", line: 2,
			want: []string{"is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f, err := config.Parse([]byte(tt.yaml), "node.yaml", config.WithLogOutput(io.Discard))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want an error", f.Cluster)
			}
			checkError(t, err, "node.yaml", tt.key, tt.line, tt.want...)
		})
	}
}

// withDiscovery returns base with a discovery section, on line 7.
func withDiscovery(d string) string {
	return strings.Replace(base, "  suspect_after: 1s\n", "  suspect_after: 1s\n  discovery: "+d+"\n", 1)
}

// checkError checks that err is an *Error wrapping ErrInvalid with the given
// file, key and line, whose message holds every one of want.
func checkError(t *testing.T, err error, file, key string, line int, want ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid")
	}
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is a %T, not a *config.Error", err)
	}
	if e.File != file || e.Key != key || e.Line != line {
		t.Errorf("File, Line, Key = %q, %d, %q; want %q, %d, %q", e.File, e.Line, e.Key, file, line, key)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q", w)
		}
	}
}

// TestMalformedYAML: the error names the line and column at fault, where
// yaml.v3's own message is a line early for some, and shows them marked.
func TestMalformedYAML(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		line, col int
		problem   string
		excerpt   string
	}{
		{
			name: "mis-indented key",
			yaml: "node:\n  name: md-1\n  host: 127.0.0.1\ncluster:\n  name: trading\n  heartbeat_interval: 200ms\n suspect_after: 1s\n",
			line: 7, col: 2, // yaml.v3 says line 6
			problem: "malformed YAML: did not find expected key",
			excerpt: "" +
				"6 |   heartbeat_interval: 200ms\n" +
				"7 |  suspect_after: 1s\n" +
				"  |  ^",
		},
		{
			name: "over-indented key",
			yaml: "node:\n  name: md-1\n      port: 7101\n",
			line: 3, col: 7,
			problem: "malformed YAML: mapping values are not allowed in this context",
			excerpt: "" +
				"2 |   name: md-1\n" +
				"3 |       port: 7101\n" +
				"  |       ^",
		},
		{
			name: "unclosed brace",
			yaml: "node: {name: md-1}\ncluster:\n  name: trading\n  join_timeout: 2s\n  suspect_after: 1s\n  discovery: {provider: static, peers: [\"127.0.0.1:7102\"]\nexchanges:\n  - {name: orders, kind: req-resp}\n",
			line: 6, col: 14, // yaml.v3 says line 5
			problem: "malformed YAML: this '{' is never closed (did not find expected ',' or '}')",
			excerpt: "" +
				"5 |   suspect_after: 1s\n" +
				"6 |   discovery: {provider: static, peers: [\"127.0.0.1:7102\"]\n" +
				"  |              ^",
		},
		{
			name: "unclosed bracket on the first line",
			yaml: "exchanges: [{name: orders, kind: pub-sub}\nnode: {name: md-1}\n",
			line: 1, col: 12,
			problem: "malformed YAML: this '[' is never closed (did not find expected ',' or ']')",
			excerpt: "" +
				"1 | exchanges: [{name: orders, kind: pub-sub}\n" +
				"  |            ^",
		},
		{
			name: "tab",
			yaml: "node:\n  name: md-1\n  host: 127.0.0.1\ncluster:\n  name: trading\n  join_timeout: 2s\n\tsuspect_after: 1s\n",
			line: 7, col: 1, // yaml.v3 says line 6
			problem: "malformed YAML: a tab in the indentation: YAML indents with spaces only (found a tab character that violates indentation)",
			excerpt: "" +
				"6 |   join_timeout: 2s\n" +
				"7 | →suspect_after: 1s\n" +
				"  | ^",
		},
		{
			name: "tab after spaces, lines after the value",
			yaml: "cluster:\n  name: >\n    trading\n    desk\n  \tjoin_timeout: 2s\n",
			line: 5, col: 3,
			problem: "malformed YAML: a tab in the indentation",
			excerpt: "" +
				"4 |     desk\n" +
				"5 |   →join_timeout: 2s\n" +
				"  |   ^",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), "node.yaml", config.WithLogOutput(io.Discard))
			checkError(t, err, "node.yaml", "", tt.line, tt.problem)
			var e *config.Error
			if !errors.As(err, &e) {
				return
			}
			if e.Column != tt.col {
				t.Errorf("Column = %d, want %d", e.Column, tt.col)
			}
			if e.Excerpt != tt.excerpt {
				t.Errorf("Excerpt:\n%s\nwant:\n%s", e.Excerpt, tt.excerpt)
			}
			if !strings.HasSuffix(err.Error(), "\n"+tt.excerpt) {
				t.Errorf("message does not end with the excerpt")
			}
		})
	}
}

// TestFileThatSetsNothing: a file that sets nothing is an error naming the
// file, wrapping ErrEmpty, never a node with a generated name.
func TestFileThatSetsNothing(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", "", "node.yaml: the file is empty: want at least one of the sections broker, cluster, exchanges, log, metrics, node, services, status"},
		{"only comments", "# node: {name: md-1}\n\n", "the file is empty"},
		{"document marker only", "---\n", "the file is empty"},
		{"null document", "~\n", "the file is empty"},
		{"empty mapping", "{}\n", "the file is empty"},
		{"only unknown sections", "networks:\n  web: {driver: bridge}\nvolumes: {data: /srv}\n",
			"node.yaml: no known section, only networks, volumes: want at least one of the sections broker, cluster, exchanges, log, metrics, node, services, status"},
		{"a misspelt section alone", "nodes: {name: md-1}\n", `no known section, only nodes: want at least one of the sections broker, cluster, exchanges, log, metrics, node, services, status; did you mean "node" for "nodes"?`},
		{"empty sections", "node:\ncluster: {}\nexchanges: []\n", "every section is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse([]byte(tt.yaml), "node.yaml", config.WithLogOutput(io.Discard))
			if err == nil {
				t.Fatalf("Parse = node %q with %d exchanges, want an error", f.Cluster.Node, len(f.Exchanges))
			}
			checkError(t, err, "node.yaml", "", 0, tt.want)
			if !errors.Is(err, config.ErrEmpty) {
				t.Errorf("error %v does not wrap ErrEmpty", err)
			}
		})
	}
	// From a file on disk, too.
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	checkError(t, err, path, "", 0, path+": the file is empty")
	if !errors.Is(err, config.ErrEmpty) {
		t.Errorf("error %v does not wrap ErrEmpty", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(path)
	checkError(t, err, path, "", 0, "cannot read: no such file or directory")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error does not wrap fs.ErrNotExist")
	}
}

func TestUnknownStrategyParamsWrapCause(t *testing.T) {
	yaml := strings.Replace(base, "strategy: sticky}", "strategy: sticky, params: {vnodes: many}}", 1)
	_, err := config.Parse([]byte(yaml), "node.yaml", config.WithLogOutput(io.Discard))
	if !errors.Is(err, strategies.ErrInvalidParams) {
		t.Errorf("error %v does not wrap strategies.ErrInvalidParams", err)
	}
}

func TestOverrideIsValidated(t *testing.T) {
	_, err := config.Parse([]byte(base), "node.yaml", config.WithLogOutput(io.Discard),
		config.WithOverride(func(f *config.File) { f.Cluster.Port = -1 }))
	checkError(t, err, "node.yaml", "", 0, "after WithOverride: cluster.Config.Port: is -1")
}

func TestDataPortOverrideIsValidated(t *testing.T) {
	_, err := config.Parse([]byte(base), "node.yaml", config.WithLogOutput(io.Discard),
		config.WithOverride(func(f *config.File) { f.Cluster.DataPort = -2 }))
	checkError(t, err, "node.yaml", "", 0, "after WithOverride: cluster.Config.DataPort: is -2")
	_, err = config.Parse([]byte(base), "node.yaml", config.WithLogOutput(io.Discard),
		config.WithOverride(func(f *config.File) { f.Cluster.Port, f.Cluster.DataPort = 7101, 7101 }))
	checkError(t, err, "node.yaml", "", 0, "after WithOverride: cluster.Config.DataPort: is 7101, the same as the node's port")
}

// Errors found by the core's validation wrap the core's error too.
func TestErrorsWrapTheCoresError(t *testing.T) {
	_, err := config.Parse([]byte(withDiscovery(`{provider: consul, consul: {address: "127.0.0.1"}}`)), "node.yaml", config.WithLogOutput(io.Discard))
	var ce *consul.ConfigError
	if !errors.As(err, &ce) || ce.Field != "consul.Config.Address" {
		t.Errorf("error %v does not wrap a consul.ConfigError for Address", err)
	}
	_, err = config.Parse([]byte(strings.Replace(base, "suspect_after: 1s", "suspect_after: 300ms", 1)), "node.yaml", config.WithLogOutput(io.Discard))
	var fe *errs.FieldError
	if !errors.As(err, &fe) || fe.Field != "cluster.Config.SuspectAfter" || !errors.Is(err, cluster.ErrInvalidConfig) {
		t.Errorf("error %v does not wrap the *errs.FieldError of cluster.Config.SuspectAfter", err)
	}
	_, err = config.Parse([]byte(withDiscovery(`{provider: static, peers: ["127.0.0.1:0"]}`)), "node.yaml", config.WithLogOutput(io.Discard))
	if !errors.Is(err, static.ErrInvalidPeer) {
		t.Errorf("error %v does not wrap static.ErrInvalidPeer", err)
	}
}
