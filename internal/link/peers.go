package link

import (
	"cmp"
	"slices"
	"time"
)

// PeerStats is the link's state with one peer: its connection to the peer
// and the peer's connection to it, with their counters. The counters are
// those of the current connections: a connection dialled again (after a
// failure, or a peer's restart) starts from zero; Stats has the link's
// totals.
type PeerStats struct {
	// Peer is the peer's data-link address.
	Peer string
	// Out reports a connection to the peer, open or being dialled; OutError
	// is its failure ("" when none): Send fails with it until RetryAfter
	// has passed, and the next Send dials again.
	Out      bool
	OutError string
	// Queued is how many bytes wait to be written to the peer.
	Queued int
	// FramesSent and BytesSent count what was written to the peer on the
	// current connection (frame headers included; not the link's pings
	// and pongs).
	FramesSent, BytesSent uint64
	// RTT is the last round-trip time measured to the peer: from queueing
	// a ping on the connection to it until its pong came back on the
	// peer's connection to this node, queueing on both sides included.
	// SmoothedRTT is their moving average, as TCP's SRTT (each sample
	// weighs 1/8); RTTAt is when the last sample was taken. All are zero
	// until a first pong comes back, and start over when the connection
	// to the peer is dialled again.
	RTT, SmoothedRTT time.Duration
	RTTAt            time.Time
	// In reports an open connection from the peer; FramesReceived and
	// BytesReceived count what it carried.
	In                            bool
	FramesReceived, BytesReceived uint64
}

// Peers returns the link's state with each peer it has a connection to or
// from (or one that failed), sorted by address. It takes the link's locks
// briefly, never waits on the network, and is safe for concurrent use.
func (l *Link) Peers() []PeerStats {
	byPeer := map[string]*PeerStats{}
	get := func(peer string) *PeerStats {
		p := byPeer[peer]
		if p == nil {
			p = &PeerStats{Peer: peer}
			byPeer[peer] = p
		}
		return p
	}
	l.out.Range(func(k, v any) bool {
		c := v.(*outConn)
		p := get(k.(string))
		c.mu.Lock()
		if c.err != nil {
			p.OutError = c.err.Error()
		} else {
			p.Out = true
		}
		p.Queued = len(c.buf)
		p.RTT, p.SmoothedRTT, p.RTTAt = c.rtt, c.srtt, c.rttAt
		c.mu.Unlock()
		p.FramesSent, p.BytesSent = c.framesSent.Load(), c.bytesSent.Load()
		return true
	})
	l.mu.Lock()
	for peer, ic := range l.inPeer {
		p := get(peer)
		p.In = true
		p.FramesReceived, p.BytesReceived = ic.frames.Load(), ic.bytes.Load()
	}
	l.mu.Unlock()
	out := make([]PeerStats, 0, len(byPeer))
	for _, p := range byPeer {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b PeerStats) int { return cmp.Compare(a.Peer, b.Peer) })
	return out
}
