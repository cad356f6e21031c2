package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/internal/wiring"
)

// run is the membership goroutine. It alone reads and writes m, calls
// the hub's SetView and publishes to observers, so changes are applied in
// order and never concurrently.
func (n *Node) run(m *membership) {
	defer n.wg.Done()
	ticker := time.NewTicker(n.cfg.HeartbeatInterval)
	defer ticker.Stop()
	joined := n.discovery == nil
	for {
		var e effects
		select {
		case <-n.quit:
			n.lastAlive = m.alive()
			return
		case hb := <-n.heartbeats:
			switch {
			case hb.GetAddress() == n.self.Address:
				continue
			case hb.GetCluster() != n.cfg.Cluster:
				n.log.Debug("heartbeat from another cluster ignored",
					slog.String("peer", hb.GetAddress()), slog.String("peer_cluster", hb.GetCluster()))
				continue
			}
			e = m.heartbeat(hb, time.Now())
		case addr := <-n.terminated:
			n.log.Debug("remote endpoint terminated", slog.String("peer_address", addr))
			e = m.endpointTerminated(addr, time.Now())
		case peers := <-n.discovered:
			e = m.discovered(peers, time.Now())
		case r := <-n.probes:
			if r.req.verify {
				n.log.Debug("endpoint check", slog.String("peer_address", r.req.addr), slog.Bool("reachable", r.reachable))
			}
			e = m.probed(r.req, r.reachable, time.Now())
		case <-ticker.C:
			e = m.tick(time.Now())
		}
		n.apply(m, e)
		now := time.Now()
		until := m.quorumUntil(now)
		n.quorumUntil.Store(&until)
		if !joined && m.settled() {
			joined = true
			close(n.joined)
		}
	}
}

func (n *Node) apply(m *membership, e effects) {
	if e.paused > 0 {
		n.log.Warn("this node did not run for a while (frozen or starved): its peers count for the quorum again once heard from",
			slog.Duration("paused", e.paused))
	}
	if m.restarted && !n.restarted.Load() {
		n.restarted.Store(true)
		n.log.Info("this node restarts a process the cluster knew: it confirms no leader lease for one lease")
		if len(e.changes) == 0 {
			n.publishView(m.view(), m.quorum(m.view()), m.dead(), m.counted())
		}
	}
	if len(e.changes) == 0 {
		if q := m.quorum(m.view()); q != n.quorum.Load() {
			// The quorum changed with no member coming or going: after a
			// pause of this process, or when the stale peers are heard again.
			n.publishView(m.view(), q, m.dead(), m.counted())
		}
	}
	if len(e.changes) > 0 {
		// The view after each change, rebuilt from the end state: replay
		// the changes backwards from it.
		views := make([][]Member, len(e.changes))
		cur := m.view()
		cur0 := cur
		for i := len(e.changes) - 1; i >= 0; i-- {
			views[i] = cur
			cur = undo(cur, e.changes[i])
		}
		// The quorum of the end state for every step: the views in between
		// are replays, and one of them (a restart is a down then an up)
		// would make the quorum flap, and the authorities be rebuilt.
		dead, quorum, cl := m.dead(), m.quorum(cur0), m.counted()
		for i, c := range e.changes {
			n.publish(c, views[i], quorum, dead, cl)
		}
	}
	if len(e.send) > 0 {
		seq := m.nextHeartbeat(time.Now())
		for _, a := range e.send {
			hb := n.heartbeat(false)
			hb.Seq, hb.Ack = seq, m.ackFor(a)
			hb.KnownIncarnation, hb.ReplacedIncarnation = m.incarnationsOf(a)
			n.system.Root.Send(actor.NewPID(a, MembersActor), hb)
		}
	}
	for _, p := range e.probes {
		n.wg.Add(1)
		go n.probe(p)
	}
}

// undo returns the view before change c, given the view after it.
func undo(after []Member, c change) []Member {
	before := make([]Member, 0, len(after)+1)
	for _, m := range after {
		if !m.same(c.member) {
			before = append(before, m)
		}
	}
	if !c.up {
		before = append(before, c.member)
		sortMembers(before)
	}
	return before
}

func (n *Node) publish(c change, view []Member, quorum bool, dead map[string]bool, cl []string) {
	ev := MembershipEvent{Member: c.member, Members: view}
	attrs := []any{slog.String("peer", c.member.Node), slog.String("peer_address", c.member.Address),
		slog.Uint64("incarnation", c.member.Incarnation), slog.Int("members", len(view))}
	if c.up {
		ev.Type = MemberUp
		n.log.Info("member up", attrs...)
	} else {
		ev.Type, ev.Reason = MemberDown, c.reason
		n.log.Info("member down", append(attrs, slog.String("reason", string(c.reason)))...)
	}
	n.publishView(view, quorum, dead, cl)
	if dropped := n.observers.publish(ev, cloneEvent); dropped > 0 {
		n.log.Warn("membership event dropped for slow subscribers", slog.Int("subscribers", dropped))
	}
}

// publishView hands a view to the hub (and keeps it for Members).
func (n *Node) publishView(view []Member, quorum bool, dead map[string]bool, cl []string) {
	if quorum != n.quorum.Load() {
		n.log.Warn("quorum changed", slog.Bool("quorum", quorum), slog.Int("members", len(view)))
	}
	n.quorum.Store(quorum)
	n.setView(view)
	n.hub.SetView(wiring.View{Members: toWiring(view), Quorum: quorum, Dead: dead, Cluster: cl,
		Restarted: n.restarted.Load()})
}

// verifyRetry is the pause between two checks of a peer's port after its
// connection broke, for the first verifyFast of the check; then
// verifySlow, within one HeartbeatInterval. A killed process's sockets
// close one by one as the kernel tears it down, and on a loaded host its
// listener outlived its data link's connection by 20-70 ms (chaos runs,
// seed 7, with -chaos.debug): a doubling pause found it refused up to 60
// ms late; checking every millisecond costs a few loopback or LAN dials,
// and only when a connection broke.
const (
	verifyRetry = time.Millisecond
	verifyFast  = 100 * time.Millisecond
	verifySlow  = 10 * time.Millisecond
)

// probe checks whether p.addr accepts a TCP connection and reports it to the
// membership goroutine. The dial is bounded by HeartbeatInterval and by Stop.
func (n *Node) probe(p probeReq) {
	defer n.wg.Done()
	dial := func() error {
		ctx, cancel := context.WithTimeout(n.probeCtx, n.cfg.HeartbeatInterval)
		defer cancel()
		if n.dialProbe != nil {
			return n.dialProbe(ctx, p.addr)
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", p.addr)
		if err == nil {
			_ = conn.Close()
		}
		return err
	}
	err := dial()
	reachable := err == nil
	if p.verify {
		// Only the peer's kernel refusing (or resetting) the connection
		// confirms that the process is gone. A dial that timed out or
		// failed otherwise says nothing: this process may have just
		// resumed from a freeze with its timer already past (a chaos run
		// saw an authority, resumed from SIGSTOP, "confirm" three live
		// peers dead that way and appoint a second leader at once instead
		// of after the lease). Such a check counts as reachable: the peer
		// stays up until it is refused or falls silent.
		//
		// A killed process's listening socket may outlive its connections
		// by tens of milliseconds: check again soon, within one heartbeat
		// interval, rather than only at the next tick.
		start := time.Now()
		t := time.NewTimer(verifyRetry)
		defer t.Stop()
		for !refused(err) {
			pause := verifyRetry
			if time.Since(start) > verifyFast {
				pause = verifySlow
			}
			if time.Since(start)+pause >= n.cfg.HeartbeatInterval {
				break
			}
			t.Reset(pause)
			select {
			case <-t.C:
			case <-n.quit:
				return
			}
			err = dial()
		}
		reachable = !refused(err)
	}
	select {
	case n.probes <- probeResult{req: p, reachable: reachable}:
	case <-n.quit:
	}
}

// refused reports whether a dial failed because the peer's host refused or
// reset the connection: nothing listens on the port any more.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
