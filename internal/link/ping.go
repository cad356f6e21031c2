package link

import (
	"encoding/binary"
	"time"
)

// The link's own frames besides the goodbye (kind KindLink, see the
// package doc): a sub-kind and a stamp.
const (
	subPing     byte = 1
	subPong     byte = 2
	controlBody      = 1 + 8
)

// control is a ping or a pong, as a Message for outConn.send.
type control struct {
	sub   byte
	stamp uint64
}

// AppendTo implements Message.
func (f control) AppendTo(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(append(b, f.sub), f.stamp), nil
}

// srttWeight: each sample moves the smoothed round-trip time by 1/srttWeight
// of its difference from it, as TCP's SRTT (RFC 6298: alpha 1/8).
const srttWeight = 8

// stamp returns the time since the link started, monotonic, for a ping.
func (l *Link) stamp() uint64 { return uint64(time.Since(l.start)) }

// pinger pings every peer with an open connection to it each PingInterval,
// until Close.
func (l *Link) pinger() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
		}
		l.out.Range(func(_, v any) bool {
			if v.(*outConn).ping(l.stamp()) {
				l.pingsSent.Add(1)
			}
			return true
		})
	}
}

// ping queues a ping when the connection is up; it reports whether it did.
func (c *outConn) ping(stamp uint64) bool {
	return c.sendIfUp(control{sub: subPing, stamp: stamp})
}

// sendIfUp queues m when the connection is dialled and has not failed or
// closed; it reports whether it did.
func (c *outConn) sendIfUp(m control) bool {
	c.mu.Lock()
	up := c.nc != nil && c.err == nil && !c.closing
	c.mu.Unlock()
	return up && c.send(KindLink, m) == nil
}

// control takes a ping or a pong that came on the connection from peer. It
// runs on that connection's reader and does not block: a pong is queued
// like any frame.
func (l *Link) control(peer string, sub byte, stamp uint64) {
	if sub == subPing {
		// The peer's connection to this node is send-only: the answer goes
		// on this node's connection to the peer. Without one up, the ping
		// goes unanswered and one is dialled for the next (nodes talk both
		// ways): a pong that waited for a dial and a TLS handshake would
		// measure them, and the smoothed time would carry that for dozens
		// of samples.
		if v, ok := l.out.Load(peer); !ok || !v.(*outConn).sendIfUp(control{sub: subPong, stamp: stamp}) {
			l.connect(peer)
		}
		return
	}
	l.pongsReceived.Add(1)
	now := l.stamp()
	if stamp == 0 || stamp > now {
		return // not a ping of this link's (an earlier process at this address sent it)
	}
	if v, ok := l.out.Load(peer); ok {
		v.(*outConn).sample(time.Duration(now-stamp), time.Now())
	}
}

// connect dials peer unless a connection to it is up, being dialled, or
// failed within RetryAfter (as Send would), with nothing queued.
func (l *Link) connect(peer string) {
	for !l.closed.Load() {
		v, ok := l.out.Load(peer)
		if !ok {
			c := l.newOut(peer)
			if _, loaded := l.out.LoadOrStore(peer, c); !loaded {
				l.startOut(c)
				return
			}
			continue
		}
		c := v.(*outConn)
		c.mu.Lock()
		redial := c.err != nil && time.Since(c.failedAt) >= l.cfg.RetryAfter
		c.mu.Unlock()
		if !redial {
			return
		}
		l.out.CompareAndDelete(peer, c)
	}
}

// sample records a round-trip time measured at at.
func (c *outConn) sample(rtt time.Duration, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srtt == 0 {
		c.srtt = rtt
	} else {
		c.srtt += (rtt - c.srtt) / srttWeight
	}
	c.rtt, c.rttAt = rtt, at
}
