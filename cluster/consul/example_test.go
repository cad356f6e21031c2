package consul_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/consul"
)

// A node registers with its local agent and hears of its peers. (Not run: it
// needs an agent.)
func Example() {
	cfg := consul.DefaultConfig()
	cfg.Address = "127.0.0.1:8500"
	d, err := consul.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	self := cluster.Registration{Cluster: "orders", Node: "node-1", Host: "10.0.0.1", Port: 8090}
	err = d.Start(context.Background(), self, func(peers []cluster.Peer) {
		fmt.Println("peers:", peers) // never concurrently, never after Stop returns
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, consul.ErrUnavailable): no agent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		log.Print(err)
	}
}
