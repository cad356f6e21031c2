package consul

import (
	"net"
	"testing"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/discoverytest"
)

// TestConformance runs the cluster.Discovery suite against the agent: every
// node registers with it and finds its peers there, so New ignores the
// list of nodes it is given.
func TestConformance(t *testing.T) {
	addr := agentAddr(t)
	discoverytest.Run(t, "consul", discoverytest.Harness{
		New: func(t *testing.T, _ cluster.Registration, _ []cluster.Registration) cluster.Discovery {
			d, err := New(testConfig(t, addr))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Failing: func(t *testing.T) cluster.Discovery {
			d, err := New(testConfig(t, closedAddress(t)))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}, discoverytest.Features{Deregisters: true, NodeNames: true, Within: seeWithin})
}

// closedAddress returns a loopback address nothing listens on.
func closedAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
