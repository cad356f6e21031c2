package cluster

import (
	"context"
	"fmt"
	"net"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/internal/status"
)

// checkStatusListen is Validate's rule for Config.StatusListen.
func checkStatusListen(addr string) error {
	if addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return errs.Field("cluster.Config.StatusListen", "%q is not host:port (e.g. 127.0.0.1:8222; port 0 picks a free one)", addr)
	}
	return nil
}

// startStatus starts the status page of cfg.StatusListen on n; nil when it
// is off. It reads the broker, the membership and, for the rates and
// latencies of calls, the node's recorder.
func (n *Node) startStatus() (*status.Server, error) {
	if n.cfg.StatusListen == "" {
		return nil, nil
	}
	cfg := status.Config{Cluster: statusView{n}, Broker: n.broker, Logger: n.log}
	if n.calls != nil {
		cfg.Calls = n.calls
	}
	s, err := status.Listen(n.cfg.StatusListen, cfg)
	if err != nil {
		return nil, &errs.FieldError{Field: "cluster.Config.StatusListen",
			Problem: fmt.Sprintf("cannot serve the status page on %q: %v", n.cfg.StatusListen, err), Err: err}
	}
	return s, nil
}

// stopStatus stops the status page, if any.
func (n *Node) stopStatus(ctx context.Context) error {
	if n.status == nil {
		return nil
	}
	return n.status.Stop(ctx)
}

// StatusAddress returns the address the node's status page listens on
// (Config.StatusListen, with the port it picked for port 0), or "" when it
// is off. The page is at http://ADDRESS/, its JSON at /api/status
// (docs/status.md).
func (n *Node) StatusAddress() string {
	if n.status == nil {
		return ""
	}
	return n.status.Addr()
}

// statusView is the node as the status page reads it.
type statusView struct{ n *Node }

var _ status.Cluster = statusView{}

func (v statusView) Self() status.Member { return toStatus(v.n.self) }
func (v statusView) Members() []status.Member {
	p := v.n.view.Load()
	if p == nil { // Start has not set the first view yet
		return []status.Member{toStatus(v.n.self)}
	}
	ms := *p
	out := make([]status.Member, len(ms))
	for i, m := range ms {
		out[i] = toStatus(m)
	}
	return out
}
func (v statusView) Owner(name string) string { return v.n.Owner(name) }
func (v statusView) HasQuorum() bool          { return v.n.HasQuorum() }

// toStatus converts m; the labels are shared, read-only (the page copies
// them).
func toStatus(m Member) status.Member {
	return status.Member{Node: m.Node, Address: m.Address, Data: m.Data, Incarnation: m.Incarnation, Labels: m.Labels}
}
