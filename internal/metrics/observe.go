package metrics

import (
	"context"
	"errors"

	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Source is what Observe reads: a broker (*actors.Broker) or a hub
// (*exchange.Hub). Its methods must not block.
type Source interface {
	Exchanges() []exchange.Spec
	Stats(name string) (exchange.Stats, error)
	Handlers(name string) ([]*boursepb.HandlerInfo, error)
	LinkStats() (exchange.LinkStats, bool)
	LinkPeers() []exchange.LinkPeerStats
}

// Observe registers on mp the observable instruments that read src's
// counters, and the counts of the calls in, when mp's readers collect (a
// Prometheus scrape): nothing is added to the data path. stop unregisters
// them; call it before src stops.
func (in *Instruments) Observe(mp metric.MeterProvider, src Source) (stop func() error, err error) {
	m := mp.Meter(ScopeName)
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, e := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = errors.Join(err, e)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		g, e := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = errors.Join(err, e)
		return g
	}
	sent := counter(ClientSentMessages, "{message}", "Requests and publications this node's callers sent; failed ones carry error.type.")
	processed := counter(ProcessMessages, "{message}", "Requests answered by this node's handlers of package actors, and publications taken by its subscriber functions; failed ones carry error.type. Exact, where messaging.process.duration times one call in 8.")
	consumed := counter(ClientConsumedMessages, "{message}", "Publications handed to this node's subscribers.")
	handlers := gauge(Handlers, "{handler}", "Handler connections of a req-resp exchange, per node they are on, as this node's routing table lists them.")
	leaders := counter(LeaderChanges, "{change}", "Changes of the leader this node routes to.")
	network := counter(PublishNetworkMessages, "{message}", "Network messages sent to other nodes' subscribers (at most one per matching node per publication).")
	received := counter(PublishReceived, "{message}", "Publications that came from other nodes.")
	dropped := counter(Dropped, "{message}", "Publications dropped, by reason: no_subscribers, node_down, overflow.")
	probation := counter(ProbationEvents, "{event}", "Probation's events on this node's handlers: ejected, probe, probe_failed, readmitted.")
	out := gauge(ProbationOut, "{handler}", "Handlers out of this node's rotation.")
	frames := counter(LinkFrames, "{frame}", "Data-link frames, sent and received.")
	bytes := counter(LinkBytes, "By", "Data-link bytes, sent and received (frame headers included).")
	writes := counter(LinkWrites, "{write}", "System calls that wrote the data link's frames.")
	broken := counter(LinkBroken, "{connection}", "Data-link connections to or from other nodes that broke.")
	rtt, e := m.Float64ObservableGauge(LinkRoundTrip, metric.WithUnit("s"),
		metric.WithDescription("Smoothed round-trip time of the data link to each peer, queueing included."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	with := func(kv ...attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(kv...))
	}
	u := func(v uint64) int64 { return int64(v) }
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		in.each(func(m *measurement) {
			n := m.read().calls
			switch {
			case n == 0:
			case m.process:
				o.ObserveInt64(processed, n, metric.WithAttributeSet(m.set))
			default:
				o.ObserveInt64(sent, n, metric.WithAttributeSet(m.set))
			}
		})
		for _, spec := range src.Exchanges() {
			st, err := src.Stats(spec.Name)
			if err != nil {
				continue // stopped or gone since Exchanges
			}
			dest := MessagingDestinationName.String(spec.Name)
			if spec.Kind == exchange.PubSub {
				o.ObserveInt64(consumed, u(st.Delivered), with(System, dest, MessagingOperationName.String(exchange.OpDeliver.String())))
				o.ObserveInt64(network, u(st.RemoteSent), with(System, dest))
				o.ObserveInt64(received, u(st.Received), with(System, dest))
				o.ObserveInt64(dropped, u(st.Unrouted), with(System, dest, DropReason.String("no_subscribers")))
				o.ObserveInt64(dropped, u(st.RemoteDropped), with(System, dest, DropReason.String("node_down")))
				o.ObserveInt64(dropped, u(st.Overflowed), with(System, dest, DropReason.String("overflow")))
				continue
			}
			o.ObserveInt64(leaders, u(st.LeaderChanges), with(System, dest))
			h := st.Health
			for _, ev := range [...]struct {
				name string
				n    uint64
			}{{"ejected", h.Ejections}, {"probe", h.Probes}, {"probe_failed", h.ProbeFailures}, {"readmitted", h.Readmissions}} {
				o.ObserveInt64(probation, u(ev.n), with(System, dest, ProbationEvent.String(ev.name)))
			}
			o.ObserveInt64(out, int64(h.Out), with(System, dest))
			hs, err := src.Handlers(spec.Name)
			if err != nil {
				continue
			}
			perNode := map[string]int64{}
			for _, hi := range hs {
				perNode[hi.GetNode()]++
			}
			for node, n := range perNode {
				o.ObserveInt64(handlers, n, with(System, dest, HandlerNode.String(node)))
			}
		}
		if ls, ok := src.LinkStats(); ok {
			sent, recv := LinkDirection.String("sent"), LinkDirection.String("received")
			o.ObserveInt64(frames, u(ls.FramesSent), with(System, sent))
			o.ObserveInt64(frames, u(ls.FramesReceived), with(System, recv))
			o.ObserveInt64(bytes, u(ls.BytesSent), with(System, sent))
			o.ObserveInt64(bytes, u(ls.BytesReceived), with(System, recv))
			o.ObserveInt64(writes, u(ls.Writes), with(System))
			o.ObserveInt64(broken, u(ls.PeerFailures), with(System))
			for _, p := range src.LinkPeers() {
				if p.SmoothedRTT > 0 {
					o.ObserveFloat64(rtt, p.SmoothedRTT.Seconds(), with(System, LinkPeer.String(p.Peer)))
				}
			}
		}
		return nil
	}, sent, processed, consumed, handlers, leaders, network, received, dropped, probation, out, frames, bytes, writes, broken, rtt)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
