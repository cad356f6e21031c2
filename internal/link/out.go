package link

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// errRedial tells Send to replace a failed connection whose RetryAfter passed.
var errRedial = errors.New("redial")

// shrinkAbove is the capacity above which a drained buffer is dropped instead
// of kept, so that one burst does not pin its memory for the link's life.
const shrinkAbove = 1 << 20

// coalesceBelow: a woken writer with less than this queued yields once
// before it writes (see run).
const coalesceBelow = 16 << 10

// outConn is the connection to one peer. Senders append encoded frames to buf
// under mu; the writer swaps buf for its drained spare and writes the whole
// batch with one write, so a busy peer costs one system call per batch, not
// per frame.
type outConn struct {
	l    *Link
	peer string

	mu       sync.Mutex
	cond     sync.Cond
	buf      []byte
	frames   uint64 // the caller's frames in buf
	control  int    // bytes of the link's own frames in buf (pings, pongs)
	spare    []byte
	waiting  bool  // the writer waits on cond
	closing  bool  // flush, say goodbye, end
	err      error // set once the connection failed; Sends fail with it
	failedAt time.Time
	nc       net.Conn // set once dialled, for abort

	// The round-trip time, from the pongs to this connection's pings
	// (Link.control): the last sample, its moving average, when taken.
	rtt, srtt time.Duration
	rttAt     time.Time

	done chan struct{} // closed when the writer has ended

	framesSent, bytesSent atomic.Uint64 // written on this connection (Peers)
}

func (l *Link) newOut(peer string) *outConn {
	c := &outConn{l: l, peer: peer, done: make(chan struct{})}
	c.cond.L = &c.mu
	return c
}

// startOut starts c's writer, unless the link closed since c was stored
// (Close may have missed c then): c fails with ErrClosed instead.
func (l *Link) startOut(c *outConn) {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		c.mu.Lock()
		c.err = ErrClosed
		c.mu.Unlock()
		close(c.done)
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go c.run()
}

func (c *outConn) send(kind byte, m Message) error {
	c.mu.Lock()
	if c.err != nil {
		retry := time.Since(c.failedAt) >= c.l.cfg.RetryAfter
		err := c.err
		c.mu.Unlock()
		if retry && !c.l.closed.Load() {
			return errRedial
		}
		return err
	}
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	start := len(c.buf)
	b := append(c.buf, 0, 0, 0, 0, kind)
	b, err := m.AppendTo(b)
	if err != nil {
		c.buf = b[:start]
		c.mu.Unlock()
		return fmt.Errorf("bourse: link: encode %T: %w", m, err)
	}
	n := len(b) - start - 4
	if n > c.l.cfg.MaxFrame {
		c.buf = b[:start]
		c.mu.Unlock()
		return &PeerError{Peer: c.peer, Err: fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooLarge, n, c.l.cfg.MaxFrame)}
	}
	if len(b) > c.l.cfg.MaxPending && start > 0 {
		c.buf = b[:start]
		c.mu.Unlock()
		return &PeerError{Peer: c.peer, Err: fmt.Errorf("%w: %d bytes wait", ErrOverflow, start)}
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	c.buf = b
	if kind == KindLink {
		c.control += len(b) - start
	} else {
		c.frames++
	}
	wake := c.waiting
	c.waiting = false
	c.mu.Unlock()
	if wake {
		c.cond.Signal()
	}
	return nil
}

func (c *outConn) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cond.Broadcast()
}

// abort closes the socket under a writer that is flushing for Close, so a
// peer that does not read cannot hold Close past its context.
func (c *outConn) abort() {
	c.mu.Lock()
	nc := c.nc
	c.err = ErrClosed
	c.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
}

// drop discards what waits and resets the connection: the peer's kernel
// throws away what it received and its process did not read yet. For a
// peer declared down, whose frames since are lost anyway: were they
// delivered later (the peer was frozen, not dead), they would arrive after
// the frames of the connection that replaces this one.
func (c *outConn) drop() {
	c.mu.Lock()
	nc := c.nc
	c.err = ErrClosed
	c.closing = true
	c.buf, c.frames, c.control = c.buf[:0], 0, 0
	c.mu.Unlock()
	c.cond.Broadcast()
	if nc != nil {
		if tc, ok := netConn(nc).(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = nc.Close()
	}
}

// netConn returns the TCP connection under a TLS one.
func netConn(nc net.Conn) net.Conn {
	if tc, ok := nc.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return nc
}

// fail records err, drops what waits and reports the peer down.
func (c *outConn) fail(err error) {
	c.mu.Lock()
	already := c.err != nil
	if !already {
		if !errors.Is(err, ErrPeerDown) {
			// Both wrapped: a refused hello is ErrProtocol as well.
			err = fmt.Errorf("%w: %w", ErrPeerDown, err)
		}
		c.err = &PeerError{Peer: c.peer, Err: err}
		c.failedAt = time.Now()
	}
	c.buf, c.frames, c.control = c.buf[:0], 0, 0
	perr := c.err
	closing := c.closing
	c.mu.Unlock()
	if !already && !closing {
		if !errors.Is(err, ErrPeerLeft) {
			c.l.log.Warn("bourse: link: connection to a peer failed", slog.String("peer", c.peer), slog.Any("error", err))
		}
		c.l.peerFailures.Add(1)
		c.l.cfg.OnDown(c.peer, perr)
	}
}

// run dials the peer and writes batches until the connection fails or
// closes.
func (c *outConn) run() {
	defer c.l.wg.Done()
	defer close(c.done)
	nc, err := c.dial()
	if err != nil {
		c.fail(err)
		return
	}
	c.mu.Lock()
	c.nc = nc
	aborted := c.err != nil
	c.mu.Unlock()
	if aborted {
		_ = nc.Close()
		return
	}
	defer nc.Close()
	hello := make([]byte, 0, len(magic)+3+len(c.l.addr))
	hello = append(hello, magic...)
	hello = append(hello, version)
	hello = binary.BigEndian.AppendUint16(hello, uint16(len(c.l.addr)))
	hello = append(hello, c.l.addr...)
	if err := c.write(nc, hello); err != nil {
		c.fail(err)
		return
	}
	// The peer never writes on this connection: a read returns only when it
	// is gone, which tells a killed peer at once instead of at the next
	// write.
	c.l.wg.Add(1)
	go func() {
		defer c.l.wg.Done()
		var b [1]byte
		n, err := nc.Read(b[:])
		switch {
		case n == 1 && b[0] == 0:
			err = ErrPeerLeft
		case n == 1:
			err = fmt.Errorf("%w: the peer refused the hello: it speaks version %d of the link's protocol, this node %d", ErrProtocol, b[0], version)
		}
		c.fail(err)
		_ = nc.Close()
	}()
	for {
		c.mu.Lock()
		woke := false
		for len(c.buf) == 0 && !c.closing && c.err == nil {
			c.waiting = true
			c.cond.Wait()
			woke = true
		}
		if woke && len(c.buf) < coalesceBelow {
			// Woken by one frame: let the goroutines that are about to send
			// more run first, so that they share this write. Without it, on
			// a busy node the writer wakes for every frame and makes one
			// system call per frame (measured: 28% of the CPU of a
			// 100-caller benchmark in write). When nothing else is
			// runnable, Gosched returns at once.
			c.mu.Unlock()
			runtime.Gosched()
			c.mu.Lock()
		}
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		batch, frames, control := c.buf, c.frames, c.control
		closing := c.closing
		if cap(c.spare) > shrinkAbove {
			c.spare = nil
		}
		c.buf, c.frames, c.control = c.spare[:0], 0, 0
		c.mu.Unlock()
		if closing {
			batch = append(batch, 0, 0, 0, 1, KindLink)
		}
		if len(batch) > 0 {
			// Counted before the write: once written, the peer may answer
			// and its caller read the counters before this goroutine runs
			// again (a test saw FramesSent lag that way).
			// Pings and pongs are not the caller's traffic; a write of
			// nothing else is not counted either, so that FramesSent/Writes
			// stays the frames a write carried.
			if n := uint64(len(batch) - control); n > 0 {
				c.l.framesSent.Add(frames)
				c.l.bytesSent.Add(n)
				c.l.writes.Add(1)
				c.framesSent.Add(frames)
				c.bytesSent.Add(n)
			}
			if err := c.write(nc, batch); err != nil {
				c.fail(err)
				return
			}
		}
		if closing {
			c.mu.Lock()
			c.err = ErrClosed
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
	}
}

// dial connects to the peer, with TLS when the link has it, within
// DialTimeout.
func (c *outConn) dial() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.l.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", c.peer)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if c.l.cfg.TLS == nil {
		return nc, nil
	}
	cfg := c.l.cfg.TLS
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(c.peer)
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

func (c *outConn) write(nc net.Conn, b []byte) error {
	_ = nc.SetWriteDeadline(time.Now().Add(c.l.cfg.WriteTimeout))
	_, err := nc.Write(b)
	return err
}
