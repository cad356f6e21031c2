package exchange

import (
	"log/slog"
	"slices"
	"time"

	"github.com/bourse-go/bourse/internal/codec"
)

// Adverts of their own. Replies carry their handler's free capacity to the
// caller's node (capacity.go), but a node that sends a handler nothing
// hears nothing of it: to it, every handler on another node is unknown,
// and local-first spills there at random, onto full handlers as onto free
// ones, until replies teach it. So each node also advertises its handlers
// of the load-aware exchanges to every other live node, as ZeroMQ's peering
// brokers do: when a handler's free capacity changed (coalesced: one advert
// per exchange per AdvertInterval at most, the values of that instant), when
// a node joined (at once), and otherwise every AdvertRefresh, well within
// AdvertTTL, so that an idle handler stays known free. It runs on one
// goroutine of the hub, started with the first load-aware exchange; the
// data path does not see it (it reads the same counters the picker reads).

const (
	// AdvertInterval is how often a node looks for changes of its
	// handlers' free capacity to advertise: the coalescing window.
	AdvertInterval = 50 * time.Millisecond
	// AdvertRefresh is how long a node goes without advertising an
	// unchanged handler: half of AdvertTTL, so that one late advert
	// does not make the handler unknown.
	AdvertRefresh = AdvertTTL / 2
)

// advertised is what the advertiser last sent for one exchange.
type advertised struct {
	handlers []codec.HandlerFree
	at       mono
	peers    *peerMap // the view it went to
}

// startAdvertiser starts the hub's advertiser, once.
func (h *Hub) startAdvertiser() {
	h.advertOnce.Do(func() {
		h.bg.Add(1)
		go func() {
			defer h.bg.Done()
			h.advertise()
		}()
	})
}

// advertise runs the advertiser until the hub stops.
func (h *Hub) advertise() {
	t := time.NewTicker(AdvertInterval)
	defer t.Stop()
	last := map[string]*advertised{}
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		h.advertRound(last, monoNow())
	}
}

// advertRound sends what changed since last (by exchange) to every other
// live node, and what is due for a refresh.
func (h *Hub) advertRound(last map[string]*advertised, now mono) {
	pm := h.peers.Load()
	points := *h.points.Load()
	for name := range last {
		if points[name] == nil {
			delete(last, name)
		}
	}
	var peers []string
	for addr, up := range pm.live {
		if up && addr != h.address() {
			peers = append(peers, addr)
		}
	}
	if len(peers) == 0 {
		return
	}
	slices.Sort(peers) // the same order every round, for the tests' logs
	for name, p := range points {
		if p.ads == nil {
			continue
		}
		hs := localFree(p)
		prev := last[name]
		if len(hs) == 0 && (prev == nil || len(prev.handlers) == 0) {
			continue // nothing here to advertise, nor to withdraw
		}
		if prev != nil && prev.peers == pm && now-prev.at < mono(AdvertRefresh) && slices.Equal(prev.handlers, hs) {
			continue
		}
		out := &codec.OutAdvert{Exchange: name, Handlers: hs}
		for _, addr := range peers {
			if err := h.sendWire(addr, codec.KindAdvert, out); err != nil {
				h.log.Debug("bourse: capacity advert not sent", slog.String("exchange", name),
					slog.String("to", addr), slog.Any("error", err))
				continue
			}
			p.advertsSent.Add(1)
		}
		last[name] = &advertised{handlers: hs, at: now, peers: pm}
	}
}

// localFree returns the free capacity of p's handlers on this node, in its
// table's order.
func localFree(p *point) []codec.HandlerFree {
	g := p.table.Load().all
	var hs []codec.HandlerFree
	for i, l := range g.loads {
		if l != nil {
			hs = append(hs, codec.HandlerFree{ID: g.infos[i].GetId(), Free: l.free()})
		}
	}
	return hs
}

// heardAdvert takes a capacity advert from another node.
func (h *Hub) heardAdvert(in codec.InAdvert) {
	p := (*h.points.Load())[in.Exchange]
	if p == nil || p.ads == nil {
		return
	}
	p.advertsHeard.Add(1)
	now := monoNow()
	for _, hf := range in.Handlers {
		if a := p.ads.get(hf.ID); a != nil {
			a.heard(hf.Free, now)
		}
	}
}
