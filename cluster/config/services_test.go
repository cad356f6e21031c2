package config_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/cluster/deploy"
	"google.golang.org/protobuf/proto"
)

const servicesYAML = `node: {name: n1}
exchanges:
  - {name: orders, kind: req-resp}
  - {name: prices, kind: pub-sub}
services:
  - {name: matching, exchange: matching, kind: matching-engine, mode: cluster-singleton}
  - name: feed
    exchange: prices-in
    kind: market-data
    mode: node-singleton
    selector: {match_labels: {bourse.io/Role: market-data}}
  - Name: books
    exchange: orders
    kind: order-book
    mode: replicas
    total: 8
    max_per_node: 2
    service_tag: eu
    params: {Depth: 50, side: both}
    selector:
      match_expressions:
        - {key: zone, op: In, values: [eu-1, eu-2]}
        - {key: gpu, op: doesnotexist}
`

func TestParseServices(t *testing.T) {
	f := parse(t, servicesYAML)
	want := []deploy.Spec{
		{Name: "matching", Exchange: "matching", Kind: "matching-engine", Mode: deploy.ModeClusterSingleton},
		{Name: "feed", Exchange: "prices-in", Kind: "market-data", Mode: deploy.ModeNodeSingleton,
			Selector: deploy.Selector{MatchLabels: map[string]string{"bourse.io/Role": "market-data"}}},
		{Name: "books", Exchange: "orders", Kind: "order-book", Mode: deploy.ModeReplicas, Total: 8, MaxPerNode: 2,
			ServiceTag: "eu", Params: map[string]string{"Depth": "50", "side": "both"},
			Selector: deploy.Selector{MatchExpressions: []deploy.Requirement{
				{Key: "zone", Op: deploy.In, Values: []string{"eu-1", "eu-2"}},
				{Key: "gpu", Op: deploy.DoesNotExist}}}},
	}
	if len(f.Services) != len(want) {
		t.Fatalf("%d services, want %d: %v", len(f.Services), len(want), f.Services)
	}
	for i := range want {
		if !f.Services[i].Equal(want[i]) {
			t.Errorf("services[%d] = %+v, want %+v", i, f.Services[i], want[i])
		}
	}
	if f := parse(t, "node: {name: n1}\n"); f.Services != nil {
		t.Errorf("no services section: %v", f.Services)
	}
}

func TestParseServicesWithKinds(t *testing.T) {
	kinds := deploy.NewKinds()
	ctor := func(context.Context, deploy.Spec, int) (deploy.Instance, error) {
		return deploy.Instance{Handler: actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) { return nil, nil })}, nil
	}
	for _, k := range []string{"matching-engine", "market-data", "order-book"} {
		if err := kinds.Register(k, ctor); err != nil {
			t.Fatal(err)
		}
	}
	parse(t, servicesYAML, config.WithKinds(kinds))
	yaml := strings.Replace(servicesYAML, "kind: order-book", "kind: orderbook", 1)
	_, err := config.Parse([]byte(yaml), "node.yaml", config.WithLogOutput(io.Discard), config.WithKinds(kinds))
	checkError(t, err, "node.yaml", "services[2].kind", 14,
		`unknown service kind "orderbook" (known: market-data, matching-engine, order-book); did you mean "order-book"?`)
	if !errors.Is(err, deploy.ErrUnknownKind) {
		t.Errorf("error does not wrap deploy.ErrUnknownKind")
	}
	// Without the registry, the kind is not checked.
	parse(t, yaml)
}

func TestParseServicesErrors(t *testing.T) {
	tests := []struct {
		name, old, new, key string
		line                int
		want                string
	}{
		{"unknown mode", "mode: replicas", "mode: replica", "services[2].mode", 15, `unknown mode "replica" (known: node-singleton, cluster-singleton, replicas); did you mean "replicas"?`},
		{"missing mode", "    mode: node-singleton\n", "", "services[1].mode", 7, "missing: every service needs a mode (known: node-singleton, cluster-singleton, replicas)"},
		{"missing kind", "kind: matching-engine, ", "", "services[0].kind", 6, "missing: every service needs a kind"},
		{"total 0", "total: 8", "total: 0", "services[2].total", 16, "is 0, want 1..4096 instances"},
		{"total as a string", "total: 8", `total: "8"`, "services[2].total", 16, `want an integer, got the value "8"`},
		{"total for a singleton", "mode: cluster-singleton}", "mode: cluster-singleton, total: 1}", "services[0].total", 6, "only mode replicas takes a total"},
		{"max per node negative", "max_per_node: 2", "max_per_node: -1", "services[2].max_per_node", 17, "is -1, want 0 (no bound) or more"},
		{"unknown key", "max_per_node: 2", "max_per_nodes: 2", "services[2].max_per_nodes", 17, `unknown key (known: exchange, keep_partial, kind, max_per_node, mode, name, params, selector, service_tag, total); did you mean "max_per_node"?`},
		{"duplicate name", "name: feed", "name: matching", "services[1].name", 7, `duplicate service name "matching" (services[0] has it)`},
		{"pub-sub exchange", "exchange: prices-in", "exchange: prices", "services[1].exchange", 8, `exchange "prices" is pub-sub: services answer requests, on a req-resp exchange`},
		{"bad label key", "bourse.io/Role", "Bourse.io/Role", `services[1].selector.match_labels["Bourse.io/Role"]`, 11, `prefix "Bourse.io" is not a DNS subdomain`},
		{"bad label value", "Role: market-data}", "Role: market data}", `services[1].selector.match_labels["bourse.io/Role"]`, 11, `value "market data" has ' ' at 6`},
		{"unknown operator", "op: In", "op: Inn", "services[2].selector.match_expressions[0].op", 22, `unknown operator "Inn" (known: In, NotIn, Exists, DoesNotExist); did you mean "In"?`},
		{"missing operator", "op: In, ", "", "services[2].selector.match_expressions[0].op", 22, "missing (known: In, NotIn, Exists, DoesNotExist)"},
		{"In without values", "values: [eu-1, eu-2]", "values: []", "services[2].selector.match_expressions[0].values", 22, "In needs one value at least"},
		{"bad value", "values: [eu-1, eu-2]", "values: [eu-1, eu 2]", "services[2].selector.match_expressions[0].values[1]", 22, `"eu 2" has ' ' at 2`},
		{"Exists with values", "op: doesnotexist}", "op: Exists, values: [x]}", "services[2].selector.match_expressions[1].values", 23, "has 1 values: Exists takes none"},
		{"params not a mapping", "params: {Depth: 50, side: both}", "params: [50]", "services[2].params", 19, "want a mapping, got a list"},
		{"param without a value", "side: both", "side: ", `services[2].params["side"]`, 19, "want a single value, got nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := strings.Replace(servicesYAML, tt.old, tt.new, 1)
			if yaml == servicesYAML {
				t.Fatalf("%q is not in the file", tt.old)
			}
			f, err := config.Parse([]byte(yaml), "node.yaml", config.WithLogOutput(io.Discard))
			if err == nil {
				t.Fatalf("Parse succeeded (%v), want an error", f.Services)
			}
			checkError(t, err, "node.yaml", tt.key, tt.line, tt.want)
		})
	}
	_, err := config.Parse([]byte("node: {name: n1}\nservices: {name: x}\n"), "node.yaml", config.WithLogOutput(io.Discard))
	checkError(t, err, "node.yaml", "services", 2, "want a list, got a mapping")
}
