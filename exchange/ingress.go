package exchange

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/codec"
	boursepb "github.com/bourse-go/bourse/proto"
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
		in := codec.RequestFromProto(m)
		h.deliverRequest(&in)
	case *boursepb.Reply:
		in := codec.ReplyFromProto(m)
		h.deliverReply(&in)
	case *boursepb.Publication:
		in := codec.PublicationFromProto(m)
		h.deliverPublication(&in)
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

// deliverRequest hands a request from another node to its local handler, or
// answers it with ErrInvalid.
func (h *Hub) deliverRequest(in *codec.InRequest) {
	if in.Target.ID == "" || (in.Target.Address != h.address() && in.Target.Address != "nonhost") {
		h.refuse(in, fmt.Errorf("%w: request without a local target", ErrInvalid))
		return
	}
	if !in.HasPayload {
		h.refuse(in, fmt.Errorf("%w: request without a payload", ErrInvalid))
		return
	}
	payload, err := h.codec.Payload(in.URL, in.Value)
	if err != nil {
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
		},
		via: remoteReply{h: h, addr: in.ReplyTo.Address, deliverTo: in.DeliverTo},
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
	back := remoteReply{h: h, addr: in.ReplyTo.Address, deliverTo: in.DeliverTo}
	back.reply(&Request{Exchange: in.Exchange, Tag: in.Tag, from: in.Handler, corr: in.Corr}, nil, err)
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

// deliverReply takes a reply from another node to a local caller.
func (h *Hub) deliverReply(in *codec.InReply) {
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

// wireIngress returns this node's ingress, the reply address of every
// request it sends to another node.
func (h *Hub) wireIngress() codec.Pid {
	return codec.Pid{Address: h.address(), ID: ingressID}
}
