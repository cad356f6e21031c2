package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/codec"
	"github.com/bourse-go/bourse/internal/link"
	"github.com/bourse-go/bourse/internal/wiring"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// Carriage: what requests, replies and publications do between nodes, on
// both sides; request.go, messages.go and publish.go hand over here when
// the other end is on another node, and take back what arrives.
//
//   - Out: sendRemote (a request), remoteReply (a handler's answer to a
//     caller on another node) and Publish (publish.go) make a codec message
//     (internal/codec) and give it to sendWire, which queues it on the data
//     link (internal/link encodes it in place) or sends its protobuf form
//     through protoactor remote.
//   - In: the link's reader calls onFrame, which decodes the frame with the
//     hub's codec; remote calls the ingress (ingress.go), which reads the
//     protobuf forms. Both end in deliverRequest (a Request with a
//     remoteReply, into the handler's mailbox), deliverReply (to the inbox,
//     or to an asynchronous caller) or deliverPublication (to fanOut).
//   - The link's life: the peer map from remote addresses to data-link
//     addresses (setPeers), startLink, onLinkDown (fail the calls in flight
//     to that node), stopLink, LinkStats.

// outbound is a data-plane message on its way to another node
// (codec.OutRequest, OutReply or OutPublication): its link frame, or the
// same message for protoactor remote.
type outbound interface {
	link.Message
	Proto() (proto.Message, error)
}

// wireIngress returns this node's ingress, the reply address of every
// request it sends to another node.
func (h *Hub) wireIngress() codec.Pid {
	return codec.Pid{Address: h.address(), ID: ingressID}
}

// sendRemote sends the i-th handler of a routed request, pid on another
// node, its request: one frame, which the handler's node decodes into a
// Request (deliverRequest) whose answer comes back to this node's ingress.
func (h *Hub) sendRemote(r *routed, i int, pid *actor.PID, o *callOptions, replyTo *actor.PID, c *call) error {
	m := &r.g.members[i]
	out := h.codec.Request(codec.OutRequest{Exchange: r.p.spec.Name, Tag: o.tag, Key: o.key, ServiceTag: o.serviceTag,
		ConnTag: m.ConnTag, Handler: m.ID, ReplyTo: h.wireIngress(), Target: codec.Pid{Address: pid.Address, ID: pid.Id},
		Payload: r.payload})
	if r.deadline != 0 {
		// The time left, not the deadline: nodes' clocks need not agree on
		// the time of day. At least 1 ns, which a request already late
		// still carries (0 would mean none), for its handler to drop.
		out.Budget = max(time.Duration(r.deadline-monoNow()), 1)
	}
	if c == nil {
		// Asynchronous: the reply goes on to the caller.
		out.DeliverTo = codec.Pid{Address: replyTo.Address, ID: replyTo.Id}
	} else {
		out.Corr = c.corr
		// Registered before sendWire looks at membership: a node dropped in
		// between is either refused there or failed by failNode after this.
		h.inbox.expectRemote(c, pid.Address)
	}
	if err := h.sendWire(pid.Address, codec.KindRequest, out); err != nil {
		return &RequestError{Exchange: r.p.spec.Name, Err: err}
	}
	return nil
}

// sendWire sends a data-plane message (a codec.OutRequest, OutReply or
// OutPublication) to the ingress of the node at addr: over the data link when
// both nodes have one, otherwise through protoactor remote. The choice is
// fixed per live peer, so one sender's messages to one node keep their order.
//
// Nothing goes to a node that is not a member: it fails with ErrNodeDown at
// once. Remote would take it and never fail it (it does not fail what it
// cannot deliver), and the calls waiting on that node were already failed
// when it left, so a reply nobody fails would be waited for until the
// caller's deadline.
func (h *Hub) sendWire(addr string, kind byte, m outbound) error {
	pm := h.peers.Load()
	if pm.live != nil && !pm.live[addr] {
		// A reply still goes to a caller this node dropped (it may have been
		// frozen, and its own view still counts this node in): the caller,
		// not this node, decides whether to wait for it, and only the link,
		// which fails what it cannot deliver, carries it.
		if data, ok := h.lastData.Load(addr); ok && kind == codec.KindReply && h.link != nil {
			if err := h.link.Send(data.(string), kind, m); err != nil {
				return linkError(addr, err)
			}
			return nil
		}
		return fmt.Errorf("%w: %s is not a member", ErrNodeDown, addr)
	}
	if h.link != nil {
		if data := pm.data[addr]; data != "" {
			if err := h.link.Send(data, kind, m); err != nil {
				return linkError(addr, err)
			}
			return nil
		}
	}
	msg, err := m.Proto()
	if err != nil {
		return err
	}
	h.root.Send(h.ingressOf(addr), msg)
	return nil
}

// linkError turns a failure of the link into the exchange's errors.
func linkError(addr string, err error) error {
	switch {
	case errors.Is(err, ErrInvalid): // the message did not encode
		return err
	case errors.Is(err, link.ErrClosed):
		return ErrStopped
	case errors.Is(err, link.ErrFrameTooLarge):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	default: // ErrPeerDown, ErrOverflow: the node does not take messages
		return fmt.Errorf("%w: %s: %v", ErrNodeDown, addr, err)
	}
}

// onFrame decodes one frame from another node's link and hands it on as the
// ingress does the messages that come through remote. A frame that does not
// decode is dropped and logged: it comes from another process, which must
// not be able to crash this one.
func (h *Hub) onFrame(kind byte, body []byte) {
	var err error
	switch kind {
	case codec.KindRequest:
		var in codec.InRequest
		if in, err = h.codec.DecodeRequest(body); err == nil {
			h.deliverRequest(&in)
		}
	case codec.KindReply:
		var in codec.InReply
		if in, err = h.codec.DecodeReply(body); err == nil {
			h.deliverReply(&in)
		}
	case codec.KindAdvert:
		var in codec.InAdvert
		if in, err = h.codec.DecodeAdvert(body); err == nil {
			h.heardAdvert(in)
		}
	case codec.KindPublication:
		var in codec.InPublication
		if in, err = h.codec.DecodePublication(body); err == nil {
			h.deliverPublication(&in)
		}
	default:
		err = fmt.Errorf("%w: unknown frame kind %d", codec.ErrMalformed, kind)
	}
	if err != nil {
		h.log.Warn("bourse: data link: dropped a frame", slog.Int("kind", int(kind)), slog.Int("bytes", len(body)), slog.Any("error", err))
	}
}

// deliverRequest hands a request from another node to its local handler, or
// answers it: ErrInvalid, ErrOverloaded, or errUndelivered when the handler
// is no longer connected.
func (h *Hub) deliverRequest(in *codec.InRequest) {
	if in.Target.ID == "" || (in.Target.Address != h.address() && in.Target.Address != "nonhost") {
		h.refuse(in, fmt.Errorf("%w: request without a local target", ErrInvalid))
		return
	}
	if !in.HasPayload {
		h.refuse(in, fmt.Errorf("%w: request without a payload", ErrInvalid))
		return
	}
	l := h.loads.get(in.Handler)
	if l == nil {
		// Not a connection of this node (any more): its disconnection
		// began (a hand-over, a service that stops; loads.remove), or it
		// was this address's previous incarnation's. The caller's table
		// lagged; it sends the request again (errUndelivered), which must
		// not go into a mailbox whose actor may stop with it queued
		// (chaos seed 11: a consensus request that crossed a hand-over
		// waited out its deadline).
		h.refuse(in, errUndelivered)
		return
	}
	if !l.acquire() {
		h.refuseFull(in, l)
		return
	}
	if l.closed.Load() { // closed since get: likewise
		l.release()
		h.refuse(in, errUndelivered)
		return
	}
	payload, err := h.codec.Payload(in.URL, in.Value)
	if err != nil {
		l.release()
		h.log.Warn("bourse: undecodable request payload", slog.String("exchange", in.Exchange), slog.Any("error", err))
		h.refuse(in, fmt.Errorf("%w: payload: %v", ErrInvalid, err))
		return
	}
	rr := &remoteRequest{
		Request: Request{
			Exchange:   in.Exchange,
			ConnTag:    in.ConnTag,
			ServiceTag: in.ServiceTag,
			Tag:        in.Tag,
			Key:        in.Key,
			Payload:    payload,
			from:       in.Handler,
			corr:       in.Corr,
			load:       l,
		},
		via: remoteReply{h: h, addr: in.ReplyTo.Address, deliverTo: deliverTo(in)},
	}
	if in.Budget > 0 {
		// The caller's deadline on this node's clock: late by the time in
		// transit, which nothing measures, never early.
		rr.deadline = monoNow() + mono(in.Budget)
		if p := (*h.points.Load())[in.Exchange]; p != nil {
			rr.expired = &p.expired
		}
	}
	if rr.via.addr != "" {
		rr.replier = &rr.via
	}
	h.root.Send(h.localPID(in.Target.ID), &rr.Request)
}

// refuse answers a request from another node that cannot be delivered with
// err, when it says where to.
func (h *Hub) refuse(in *codec.InRequest, err error) {
	if in.ReplyTo.Address == "" {
		return
	}
	back := remoteReply{h: h, addr: in.ReplyTo.Address, deliverTo: deliverTo(in)}
	back.reply(&Request{Exchange: in.Exchange, Tag: in.Tag, from: in.Handler, corr: in.Corr}, nil, err)
}

// refuseFull answers a request from another node whose handler's limit
// and queue (l) are full with ErrOverloaded, at once, and with the
// handler's free capacity, which the caller's node takes as an advert.
func (h *Hub) refuseFull(in *codec.InRequest, l *load) {
	if in.ReplyTo.Address == "" {
		return
	}
	back := remoteReply{h: h, addr: in.ReplyTo.Address, deliverTo: deliverTo(in)}
	back.reply(&Request{Exchange: in.Exchange, Tag: in.Tag, from: in.Handler, corr: in.Corr, load: l}, nil, ErrOverloaded)
}

// deliverTo returns where the answer to in goes on from the caller's
// ingress: RequestAsync's caller, nil for a blocking call.
func deliverTo(in *codec.InRequest) *codec.Pid {
	if in.DeliverTo.IsZero() {
		return nil
	}
	d := in.DeliverTo
	return &d
}

// localPID returns the PID of local actor id, one per id, so that
// protoactor's per-PID process cache stays warm across requests.
func (h *Hub) localPID(id string) *actor.PID {
	if p, ok := h.targets.Get(id); ok && p.Address == h.address() {
		return p
	}
	p := actor.NewPID(h.address(), id)
	h.targets.Put(id, p)
	return p
}

// remoteRequest is a Request from a caller on another node, with its
// replier.
type remoteRequest struct {
	Request
	via remoteReply
}

// remoteReply answers a caller on another node: a codec.OutReply to the
// ingress of the caller's node, which hands it to the caller's call or, for
// RequestAsync, on to deliverTo.
type remoteReply struct {
	h         *Hub
	addr      string     // the caller's node
	deliverTo *codec.Pid // RequestAsync's caller; nil for a blocking call
}

func (rr *remoteReply) reply(r *Request, payload proto.Message, err error) {
	w := rr.h.codec.Reply(codec.OutReply{Exchange: r.Exchange, Corr: r.corr, Tag: r.Tag, From: r.from, DeliverTo: rr.deliverTo})
	if r.load != nil {
		// The capacity advert, piggybacked (capacity.go).
		w.Free, w.HasFree = r.load.free(), true
	}
	if err == nil {
		w.Payload = payload
	} else {
		w.Err = ErrorToWire(r.Exchange, err)
	}
	// A reply that cannot be sent is lost with its link, whose failure
	// fails the caller's call on its own node; one whose payload does not
	// encode is answered with ErrInvalid instead.
	if serr := rr.h.sendWire(rr.addr, codec.KindReply, w); errors.Is(serr, ErrInvalid) && w.Err == nil {
		w.Payload, w.Err = nil, ErrorToWire(r.Exchange, serr)
		_ = rr.h.sendWire(rr.addr, codec.KindReply, w)
	}
}

// deliverReply takes a reply from another node to a local caller.
func (h *Hub) deliverReply(in *codec.InReply) {
	if in.HasFree {
		h.heard(in)
	}
	r := &Reply{Exchange: in.Exchange, Tag: in.Tag, From: in.From, corr: in.Corr}
	if in.Err != nil {
		r.Err = ErrorFromWire(in.Err)
	} else if in.HasPayload {
		p, err := h.codec.Payload(in.URL, in.Value)
		if err != nil {
			r.Err = &RequestError{Exchange: in.Exchange, Err: fmt.Errorf("%w: reply payload: %v", ErrInvalid, err)}
		} else {
			r.Payload = p
		}
	}
	if d := in.DeliverTo; !d.IsZero() {
		h.root.Send(actor.NewPID(d.Address, d.ID), r)
		return
	}
	h.inbox.deliverRemote(r)
}

// heard takes the capacity advert a reply carries, when the exchange's
// strategy routes by load.
func (h *Hub) heard(in *codec.InReply) {
	if p := (*h.points.Load())[in.Exchange]; p != nil && p.ads != nil {
		if a := p.ads.get(in.From); a != nil {
			a.heard(in.Free, monoNow())
		}
	}
}

// deliverPublication copies a publication from another node to the local
// subscribers.
func (h *Hub) deliverPublication(in *codec.InPublication) {
	p := (*h.points.Load())[in.Exchange]
	if p == nil || p.spec.Kind != PubSub {
		return
	}
	payload, err := h.codec.Payload(in.URL, in.Value)
	if err != nil {
		h.log.Warn("bourse: undecodable publication", slog.String("exchange", in.Exchange), slog.Any("error", err))
		return
	}
	p.received.Add(1)
	h.fanOut(p, in.Key, payload)
}

// peerMap maps the protoactor addresses of the live nodes to their data-link
// addresses and back; a node without a link is absent.
type peerMap struct {
	data   map[string]string // remote address -> data-link address
	remote map[string]string // data-link address -> remote address
	live   map[string]bool   // remote addresses of the members; nil until told
	inc    map[string]uint64 // remote address -> the member's incarnation, when known
}

// startLink starts the hub's data link on cfg.DataAddr.
func (h *Hub) startLink() error {
	host, port, err := net.SplitHostPort(h.cfg.DataAddr)
	if err != nil {
		return fmt.Errorf("%w: Config.DataAddr %q: %v", ErrInvalid, h.cfg.DataAddr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("%w: Config.DataAddr %q: port: %v", ErrInvalid, h.cfg.DataAddr, err)
	}
	l, err := link.Listen(host, p, link.Config{Handler: h.onFrame, OnDown: h.onLinkDown, Logger: h.log, TLS: h.cfg.DataTLS})
	if err != nil {
		return err
	}
	h.link = l
	return nil
}

// dataAddress returns the address the hub's data link listens on ("" without
// one). The cluster layer tells the other nodes (wiring.Member.Data).
func (h *Hub) dataAddress() string {
	if h.link == nil {
		return ""
	}
	return h.link.Addr()
}

// setPeers records the data-link addresses of members (with membersMu held)
// and closes the link's connections to the nodes that are gone.
func (h *Hub) setPeers(members []wiring.Member) {
	pm := &peerMap{data: map[string]string{}, remote: map[string]string{}, live: map[string]bool{}, inc: map[string]uint64{}}
	for _, m := range members {
		pm.live[m.Address] = true
		if m.Incarnation != 0 {
			pm.inc[m.Address] = m.Incarnation
		}
		if m.Data != "" {
			h.lastData.Store(m.Address, m.Data)
		}
		if m.Data != "" && m.Address != h.address() {
			pm.data[m.Address] = m.Data
			pm.remote[m.Data] = m.Address
		}
	}
	old := h.peers.Swap(pm)
	if h.link == nil || old == nil {
		return
	}
	for data := range old.remote {
		if _, ok := pm.remote[data]; !ok {
			h.link.Forget(data)
		}
	}
}

// staleHandler reports whether info was connected on an earlier process
// at its address than the member that lives there now.
func (h *Hub) staleHandler(info *boursepb.HandlerInfo) bool {
	inc := h.peers.Load().inc[info.GetPid().GetAddress()]
	return inc != 0 && info.GetIncarnation() != 0 && info.GetIncarnation() != inc
}

// onLinkDown fails the calls waiting on a node whose link connection broke:
// frames to or from it may have been lost, so their replies may never come.
func (h *Hub) onLinkDown(peer string, err error) {
	addr := h.peers.Load().remote[peer]
	if addr == "" {
		return // not (or no longer) a member: its calls failed when it left
	}
	level := slog.LevelWarn
	if errors.Is(err, link.ErrPeerLeft) {
		level = slog.LevelDebug // a node that stops closes its link before it says it leaves
	}
	h.log.Log(context.Background(), level, "bourse: data link to a node ended; failing the calls waiting on it", slog.String("peer", addr), slog.Any("error", err))
	// Membership first: its check of the peer runs while the calls fail.
	if h.cfg.OnPeerDown != nil && !errors.Is(err, link.ErrPeerLeft) {
		h.cfg.OnPeerDown(addr)
	}
	h.inbox.failNode(addr)
}

// stopLink closes the data link, flushing what is queued.
func (h *Hub) stopLink(ctx context.Context) error {
	if h.link == nil {
		return nil
	}
	return h.link.Close(ctx)
}

// LinkStats are the counters of a hub's data link (see Config.DataAddr).
type LinkStats struct {
	// FramesSent and BytesSent count what the hub sent to other nodes on
	// the link; Writes counts the system calls that carried them
	// (FramesSent/Writes frames per write, on average).
	FramesSent, BytesSent, Writes uint64
	// FramesReceived and BytesReceived count what other nodes sent it.
	FramesReceived, BytesReceived uint64
	// PeerFailures counts connections to or from other nodes that broke.
	PeerFailures uint64
}

// LinkStats returns the counters of the hub's data link; ok is false when
// the hub has none (everything to other nodes goes through remote).
func (h *Hub) LinkStats() (s LinkStats, ok bool) {
	if h.link == nil {
		return LinkStats{}, false
	}
	ls := h.link.Stats()
	return LinkStats{FramesSent: ls.FramesSent, BytesSent: ls.BytesSent, Writes: ls.Writes,
		FramesReceived: ls.FramesReceived, BytesReceived: ls.BytesReceived, PeerFailures: ls.PeerFailures}, true
}

// LinkPeerStats is the data link's state with one other node (LinkPeers):
// the counters are those of the current connections, which start from zero
// when one is dialled again; LinkStats has the totals.
type LinkPeerStats struct {
	// Peer is the other node's data-link address (cluster.Member.Data).
	Peer string
	// Out reports a connection to the node, open or being dialled;
	// OutError is its failure ("" when none). Queued is how many bytes wait
	// to be written to it.
	Out      bool
	OutError string
	Queued   int
	// FramesSent and BytesSent count what was written to the node.
	FramesSent, BytesSent uint64
	// In reports an open connection from the node; FramesReceived and
	// BytesReceived count what it carried.
	In                            bool
	FramesReceived, BytesReceived uint64
	// RTT is the last round-trip time the link measured to the node, once
	// a second, with a ping queued behind the frames to it and a pong
	// queued behind the frames from it: the time a request and its reply
	// spend on the link, without the handler. SmoothedRTT is their moving
	// average (each sample weighs 1/8, as TCP's SRTT); RTTAt is when the
	// last sample was taken. All are zero until a first sample, and start
	// over when the connection to the node is dialled again.
	RTT, SmoothedRTT time.Duration
	RTTAt            time.Time
}

// LinkPeers returns the data link's state with each node it has a
// connection to or from, sorted by data-link address; nil when the hub has
// no link. It does not block on the network.
func (h *Hub) LinkPeers() []LinkPeerStats {
	if h.link == nil {
		return nil
	}
	ps := h.link.Peers()
	out := make([]LinkPeerStats, len(ps))
	for i, p := range ps {
		out[i] = LinkPeerStats{Peer: p.Peer, Out: p.Out, OutError: p.OutError, Queued: p.Queued,
			FramesSent: p.FramesSent, BytesSent: p.BytesSent,
			In: p.In, FramesReceived: p.FramesReceived, BytesReceived: p.BytesReceived,
			RTT: p.RTT, SmoothedRTT: p.SmoothedRTT, RTTAt: p.RTTAt}
	}
	return out
}
