package config_test

import (
	"fmt"
	"io"
	"log"

	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/strategies"
)

func ExampleParse() {
	yaml := `
node: {name: md-1, host: 127.0.0.1, port: 7101}
cluster:
  name: trading
  discovery: {provider: static, peers: ["127.0.0.1:7102", "127.0.0.1:7103"]}
exchanges:
  - {name: orders, kind: req-resp, strategy: sticky, params: {load_factor: 1.5}}
  - {name: prices, kind: pub-sub}
  - {name: matching, kind: req-resp, strategy: consensus}
`
	f, err := config.Parse([]byte(yaml), "node.yaml", config.WithLogOutput(io.Discard))
	if err != nil {
		log.Fatal(err)
	}
	c := f.Cluster
	fmt.Printf("node %s on %s:%d in cluster %s\n", c.Node, c.Host, c.Port, c.Cluster)
	fmt.Printf("discovery %s: %v\n", f.Discovery.Provider, f.Discovery.Peers)
	for _, s := range f.Exchanges {
		fmt.Printf("exchange %s: %v", s.Name, s.Kind)
		if s.Strategy != "" {
			fmt.Printf(", strategy %s %v", s.Strategy, s.Params)
		}
		fmt.Println()
	}
	// Then: n, err := config.Start(ctx, f)

	// Output:
	// node md-1 on 127.0.0.1:7101 in cluster trading
	// discovery static: [127.0.0.1:7102 127.0.0.1:7103]
	// exchange orders: req-resp, strategy sticky map[load_factor:1.5]
	// exchange prices: pub-sub
	// exchange matching: req-resp, strategy consensus map[]
}

// A bad file fails with an error naming the file, the line, the key and the
// problem.
func ExampleParse_error() {
	yaml := `
node: {name: md-1}
exchanges:
  - {name: orders, kind: req-resp, stratgy: sticky}
`
	_, err := config.Parse([]byte(yaml), "node.yaml")
	fmt.Println(err)
	// Output:
	// bourse: node.yaml:4: exchanges[0].stratgy: unknown key (known: kind, name, params, strategy); did you mean "strategy"?
}

// Strategies made of code are registered under a name, which the file uses.
func ExampleWithStrategies() {
	reg := strategies.Builtin()
	byUser := func(r strategies.Request) uint64 { return uint64(len(r.Key)) } // your hash
	if err := reg.Register("by-user", strategies.StickyFun(byUser)); err != nil {
		log.Fatal(err)
	}
	yaml := `exchanges: [{name: sessions, kind: req-resp, strategy: by-user, params: {vnodes: 64}}]`
	f, err := config.Parse([]byte(yaml), "node.yaml", config.WithStrategies(reg), config.WithLogOutput(io.Discard))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Exchanges[0].Strategy, f.Exchanges[0].Params)
	// Output:
	// by-user map[vnodes:64]
}

// Code has the last word, after the file and the environment.
func ExampleWithOverride() {
	yaml := `node: {name: md-1, port: 7101}`
	f, err := config.Parse([]byte(yaml), "node.yaml", config.WithLogOutput(io.Discard),
		config.WithOverride(func(f *config.File) { f.Cluster.Port = 0 })) // a free port, in tests
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Cluster.Node, f.Cluster.Port)
	// Output:
	// md-1 0
}

// The sample of examples/node.
func ExampleLoad() {
	f, err := config.Load("../../examples/node/node.yaml", config.WithLogOutput(io.Discard))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Cluster.Cluster, f.Discovery.Provider, len(f.Exchanges), "exchanges")
	// Output:
	// trading static 3 exchanges
}
