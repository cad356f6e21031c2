package exchange

import (
	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// FlowOf returns how many publications subscriber pid of exchange name has
// in its mailbox and queued for it on h (flow.go), and false when it has
// no flow.
func FlowOf(h *Hub, name string, pid *actor.PID) (pending int64, queued int, ok bool) {
	p := (*h.points.Load())[name]
	if p == nil {
		return 0, 0, false
	}
	v, ok := p.flows.Load(pid.Id)
	if !ok {
		return 0, 0, false
	}
	f := v.(*flow)
	return f.pending(), f.queuedLen(), true
}

// DropOldestWindow is dropOldestWindow.
var DropOldestWindow = dropOldestWindow

// LoseControl makes h drop the control messages lose returns true for, as
// a failing connection would (see Hub.lose).
func LoseControl(h *Hub, lose func(proto.Message) bool) { h.lose.Store(&lose) }

// ControlResend and TableRepush are controlResend and tableRepush.
const (
	ControlResend = controlResend
	TableRepush   = tableRepush
)

// AdvertOf returns what h knows of the free capacity of handler id of
// exchange name on another node (capacity.go: advert.estimate), and false
// when it knows nothing young enough.
func AdvertOf(h *Hub, name, id string) (free int, ok bool) {
	p := (*h.points.Load())[name]
	if p == nil || p.ads == nil {
		return 0, false
	}
	a := p.ads.get(id)
	if a == nil {
		return 0, false
	}
	return a.estimate(monoNow())
}

// StopAuthorities stops every authority h runs and forgets them, as a
// node that regains its quorum does, without telling any point of
// presence: those of other nodes keep following the stopped ones.
func StopAuthorities(h *Hub) {
	h.membersMu.Lock()
	auths := h.auths
	h.auths = map[string]*actor.PID{}
	h.membersMu.Unlock()
	for _, pid := range auths {
		_ = h.root.StopFuture(pid).Wait()
	}
}

// OwnerOf is the address of the node that owns exchange name in h's view.
func OwnerOf(h *Hub, name string) string { return h.owner(name) }
