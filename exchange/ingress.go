package exchange

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// ingressID is the id of every hub's ingress process: other nodes address
// this node's ingress as actor.NewPID(address, ingressID).
const ingressID = "bourse$ingress"

// ingress is the hub's door for messages from other nodes that come through
// protoactor remote: control messages that must find (or start) an
// authority, and requests, replies and publications from nodes the data link
// does not reach (see carriage.go; those that take the link arrive in onFrame,
// and both end in deliverRequest, deliverReply, deliverPublication). It is a plain
// process, not an actor: remote's reader calls it directly, so a request or a
// publication from another node costs no extra mailbox hop, and one sender's
// messages keep their order. Nothing that arrives here can crash the node: a
// malformed message is logged and, for a request, answered with ErrInvalid.
type ingress struct{ h *Hub }

func (in *ingress) SendUserMessage(_ *actor.PID, message any) {
	env, _ := message.(*actor.MessageEnvelope)
	if env != nil {
		message = env.Message
	}
	h := in.h
	switch m := message.(type) {
	case *boursepb.Request:
		h.remoteRequest(m)
	case *boursepb.Reply:
		h.remoteReply(m)
	case *boursepb.Publication:
		h.remotePublication(m)
	case *boursepb.Attach:
		if auth := h.authorityFor(m.GetExchange()); auth != nil {
			h.root.Send(auth, envelopeOr(env, m))
		} else {
			h.holdAttach(m.GetExchange(), envelopeOr(env, m))
		}
	case *boursepb.Sync:
		if p := (*h.points.Load())[m.GetExchange()]; p != nil && p.popPID != nil {
			h.root.Send(p.popPID, m)
			return
		}
		h.root.Send(toPID(m.GetAuthority()), &boursepb.Attach{Exchange: m.GetExchange(), Node: h.cfg.Node,
			Pop: &boursepb.Pid{Address: h.address()}, HasExchange: false})
	case *boursepb.VoteRequest:
		if auth := toPID(m.GetAuthority()); auth != nil {
			h.root.Send(auth, h.votes.vote(h.now(), h.address(), m))
		}
	default:
		h.log.Warn("bourse: ingress dropped an unexpected message", slog.String("type", fmt.Sprintf("%T", message)))
	}
}

func (in *ingress) SendSystemMessage(*actor.PID, any) {}
func (in *ingress) Stop(*actor.PID)                   {}

func envelopeOr(env *actor.MessageEnvelope, m any) any {
	if env != nil {
		return env
	}
	return m
}

// address returns this node's remote address ("nonhost" without remote).
func (h *Hub) address() string { return h.system.Address() }

func (h *Hub) isLocal(pid *actor.PID) bool {
	return pid.Address == h.system.Address() || pid.Address == "nonhost"
}

// authorityFor returns the local authority of exchange name, starting it when
// this node owns the exchange and has none yet; nil when another node owns it
// or the node is still joining (see setJoining; the point of presence that
// asked will retry).
func (h *Hub) authorityFor(name string) *actor.PID {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	if h.stopped.Load() {
		return nil
	}
	if pid := h.auths[name]; pid != nil {
		return pid
	}
	if h.joining {
		return nil
	}
	if h.ownerOf(name, h.members) != h.address() {
		return nil
	}
	h.authSeq++
	live := h.liveAddresses(h.members)
	quorum, dead, voters := h.quorum.Load(), h.dead, h.voters
	pid, err := h.root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return newAuthority(h, name, h.address(), live, quorum, dead, voters, h.log)
	}), fmt.Sprintf("bourse$auth$%s$%d", name, h.authSeq))
	if err != nil {
		h.log.Error("bourse: cannot start authority", slog.String("exchange", name), slog.Any("error", err))
		return nil
	}
	h.auths[name] = pid
	return pid
}

// holdAttach keeps an Attach that came while this node was joining, for the
// authority that setJoining(false) starts: the point of presence that sent
// it would otherwise wait for its next retry (attachRetry), and a leader's
// lease could lapse meanwhile. Attaches for exchanges this node does not
// own are dropped, as before.
func (h *Hub) holdAttach(name string, msg any) {
	h.membersMu.Lock()
	defer h.membersMu.Unlock()
	if !h.joining || h.stopped.Load() || h.ownerOf(name, h.members) != h.address() {
		return
	}
	if h.held == nil {
		h.held = map[string][]any{}
	}
	if len(h.held[name]) < 1024 {
		h.held[name] = append(h.held[name], msg)
	}
}

// remoteRequest hands a request that came through remote to its handler.
func (h *Hub) remoteRequest(m *boursepb.Request) {
	in := inRequest{exchange: m.GetExchange(), tag: m.GetTag(), key: m.GetKey(), serviceTag: m.GetServiceTag(),
		connTag: m.GetConnTag(), corr: m.GetCorrelationId(), replyAddr: m.GetReplyTo().GetAddress(), replyID: m.GetReplyTo().GetId(),
		targetAddr: m.GetTarget().GetAddress(), targetID: m.GetTarget().GetId(), deliverTo: m.GetDeliverTo(), handler: m.GetHandler()}
	if a := m.GetPayload(); a != nil {
		in.url, in.value, in.hasPayload = []byte(a.GetTypeUrl()), a.GetValue(), true
	}
	h.deliverRequest(&in)
}

// deliverRequest hands a request from another node to its local handler, or
// answers it with ErrInvalid.
func (h *Hub) deliverRequest(in *inRequest) {
	var replyTo *actor.PID
	switch {
	case in.replyID == ingressID && in.replyAddr != "":
		replyTo = h.ingressOf(in.replyAddr)
	case in.replyAddr != "":
		replyTo = actor.NewPID(in.replyAddr, in.replyID)
	}
	fail := func(err error) {
		if replyTo != nil {
			_ = h.sendWire(replyTo.Address, frameReply, &outReply{exchange: in.exchange, corr: in.corr, tag: in.tag,
				from: in.handler, err: ErrorToWire(in.exchange, err), deliverTo: in.deliverTo})
		}
	}
	if in.targetID == "" || (in.targetAddr != h.address() && in.targetAddr != "nonhost") {
		fail(fmt.Errorf("%w: request without a local target", ErrInvalid))
		return
	}
	if !in.hasPayload {
		fail(fmt.Errorf("%w: request without a payload", ErrInvalid))
		return
	}
	payload, err := newPayload(in.url, in.value)
	if err != nil {
		h.log.Warn("bourse: undecodable request payload", slog.String("exchange", in.exchange), slog.Any("error", err))
		fail(fmt.Errorf("%w: payload: %v", ErrInvalid, err))
		return
	}
	h.root.Send(h.localPID(in.targetID), &Request{
		Exchange:   in.exchange,
		ConnTag:    in.connTag,
		ServiceTag: in.serviceTag,
		Tag:        in.tag,
		Key:        in.key,
		Payload:    payload,
		from:       in.handler,
		corr:       in.corr,
		replyTo:    replyTo,
		remote:     true,
		hub:        h,
		deliverTo:  in.deliverTo,
		root:       h.root,
	})
}

// localPID returns the PID of local actor id, one per id, so that
// protoactor's per-PID process cache stays warm across requests.
func (h *Hub) localPID(id string) *actor.PID {
	if p, ok := h.targets.load()[id]; ok && p.Address == h.address() {
		return p
	}
	p := actor.NewPID(h.address(), id)
	h.targets.put(id, p)
	return p
}

// remoteReply takes a reply that came through remote to a local caller.
func (h *Hub) remoteReply(m *boursepb.Reply) {
	in := inReply{exchange: m.GetExchange(), tag: m.GetTag(), from: m.GetFrom(), corr: m.GetCorrelationId(), err: m.GetError()}
	if a := m.GetPayload(); a != nil {
		in.url, in.value, in.hasPayload = []byte(a.GetTypeUrl()), a.GetValue(), true
	}
	if d := m.GetDeliverTo(); d != nil {
		in.deliverTo = toPID(d)
	}
	h.deliverReply(&in)
}

// deliverReply takes a reply from another node to a local caller.
func (h *Hub) deliverReply(in *inReply) {
	r := &Reply{Exchange: in.exchange, Tag: in.tag, From: in.from, corr: in.corr}
	if in.err != nil {
		r.Err = ErrorFromWire(in.err)
	} else if in.hasPayload {
		p, err := newPayload(in.url, in.value)
		if err != nil {
			r.Err = &RequestError{Exchange: in.exchange, Err: fmt.Errorf("%w: reply payload: %v", ErrInvalid, err)}
		} else {
			r.Payload = p
		}
	}
	if in.deliverTo != nil {
		h.root.Send(in.deliverTo, r)
		return
	}
	h.inbox.deliverRemote(r)
}

// remotePublication copies a publication that came through remote to the
// local subscribers.
func (h *Hub) remotePublication(m *boursepb.Publication) {
	in := inPublication{exchange: m.GetExchange(), key: m.GetKey()}
	if a := m.GetPayload(); a != nil {
		in.url, in.value = []byte(a.GetTypeUrl()), a.GetValue()
	}
	h.deliverPublication(&in)
}

// deliverPublication copies a publication from another node to the local
// subscribers.
func (h *Hub) deliverPublication(in *inPublication) {
	p := (*h.points.Load())[in.exchange]
	if p == nil || p.spec.Kind != PubSub {
		return
	}
	payload, err := newPayload(in.url, in.value)
	if err != nil {
		h.log.Warn("bourse: undecodable publication", slog.String("exchange", in.exchange), slog.Any("error", err))
		return
	}
	p.received.Add(1)
	h.fanOut(p, in.key, payload)
}

// wireRequest is the remote form of a request for handler target.
func wireRequest(r *Request, target *actor.PID, replyTo *boursepb.Pid, deliverTo *actor.PID) (*boursepb.Request, error) {
	payload, err := anypb.New(r.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	return &boursepb.Request{
		Exchange: r.Exchange, CorrelationId: r.corr, Tag: r.Tag, Key: r.Key, ServiceTag: r.ServiceTag,
		ConnTag: r.ConnTag, ReplyTo: replyTo, Payload: payload, Target: fromPID(target), DeliverTo: fromPID(deliverTo),
		Handler: r.from,
	}, nil
}

func marshalAny(m proto.Message) (*anypb.Any, error) {
	if m == nil {
		return nil, nil
	}
	return anypb.New(m)
}

// wireIngress returns this node's ingress as a wire Pid, shared by every
// outgoing request (read-only once made; remade if the address changed, as
// when remote starts after the hub).
func (h *Hub) wireIngress() *boursepb.Pid {
	p := h.wireSelf.Load()
	if p == nil || p.GetAddress() != h.address() {
		p = &boursepb.Pid{Address: h.address(), Id: ingressID}
		h.wireSelf.Store(p)
	}
	return p
}
