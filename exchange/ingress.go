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
	case *boursepb.CapacityAdvert:
		h.heardAdvert(codec.AdvertFromProto(m))
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
