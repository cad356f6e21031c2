// Package link is bourse's data-plane transport between nodes: one TCP
// connection per ordered pair of nodes, carrying length-prefixed protobuf
// frames, with the frames queued while the connection writes coalesced into
// one write.
//
// protoactor remote, which carries bourse's control plane, costs more CPU per
// message than a request-response cycle of the exchange does on its own
// (measured: 24 µs of CPU per remote round trip over three processes, most of
// it in the endpoint writer's actor, gRPC's HTTP/2 framing and its loopy
// writer). Requests, replies and publications are small, frequent and
// addressed to one well-known process per node (the hub's ingress), which is
// all a framed stream needs.
//
// Every frame a sender queues for a peer arrives in order, or the peer is
// reported down through Config.OnDown (on both sides), after which the caller
// must assume that any frame since the last one it knows arrived was lost.
//
// Wire format. A connection starts with the dialer's hello:
//
//	"BRSL" version(1 byte: 2) len(2 bytes, big endian) sender-address(len bytes)
//
// and then carries frames:
//
//	len(4 bytes, big endian) kind(1 byte) body(len-1 bytes)
//
// Kinds 1..255 are the caller's. Kind 0 (KindLink) is the link's own:
//
//	goodbye: no body; the last frame of a connection closed on purpose
//	ping:    0x01 stamp(8 bytes, big endian)
//	pong:    0x02 stamp(8 bytes, big endian), the ping's stamp echoed
//
// Any other kind-0 body is a protocol error. A ping's stamp is the
// sender's monotonic nanoseconds since its link started, which only the
// sender reads: the pong tells it the round-trip time (PeerStats.RTT).
// Pings go on the sender's connection to the peer and pongs come back on
// the peer's connection to the sender, each in its queue behind the frames
// queued before it.
//
// The accepting side never writes, but for one byte when it closes the
// connection: 0 when it closes on purpose, so that the dialer tells a peer
// that left from one that died, or its own version when it refused the
// hello's, so that the dialer reports the mismatch (ErrProtocol) rather
// than a connection that ended. Version 2 added pings and pongs; a node of
// version 1 would take a ping for a goodbye.
package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
)

// Errors of the link. Errors returned or reported wrap one of them.
var (
	// ErrClosed: the link was closed.
	ErrClosed = errors.New("bourse: link: closed")
	// ErrPeerDown: the connection to or from a peer failed, or the peer
	// could not be reached; frames may have been lost.
	ErrPeerDown = errors.New("bourse: link: peer down")
	// ErrPeerLeft: the peer closed its link on purpose (Close); it wraps
	// ErrPeerDown, since frames sent to it since are lost all the same.
	ErrPeerLeft = fmt.Errorf("%w: peer closed its link", ErrPeerDown)
	// ErrOverflow: more than Config.MaxPending bytes wait for one peer.
	ErrOverflow = errors.New("bourse: link: send queue full")
	// ErrFrameTooLarge: a frame is larger than Config.MaxFrame.
	ErrFrameTooLarge = errors.New("bourse: link: frame too large")
	// ErrProtocol: a peer sent bytes that are not the link's protocol.
	ErrProtocol = errors.New("bourse: link: protocol error")
)

// Message is what Send sends: something that appends its encoding to a
// frame. AppendTo is called once, synchronously, by Send.
type Message interface {
	AppendTo(b []byte) ([]byte, error)
}

// Proto sends a protobuf message as a frame's body.
type Proto struct{ proto.Message }

// AppendTo implements Message.
func (p Proto) AppendTo(b []byte) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(b, p.Message)
}

// KindLink is the link's own frame kind (goodbye, ping, pong); callers use
// kinds 1..255.
const KindLink byte = 0

const (
	magic   = "BRSL"
	version = 2
)

// helloTimeout bounds how long an accepted connection may take to
// complete its TLS handshake and send its hello: a peer that dialed us
// sends both at once, and a stranger that sends nothing must not hold a
// goroutine for ever.
const helloTimeout = 5 * time.Second

// closeWriteTimeout bounds Close's last write to each incoming
// connection: a peer that does not read must not hold Close up.
const closeWriteTimeout = 100 * time.Millisecond

// Config configures a Link.
type Config struct {
	// Handler is called, on the connection's reader goroutine, with each
	// frame that arrives. body is only valid during the call. Frames of one
	// connection come in order; Handler must not block for long.
	Handler func(kind byte, body []byte)
	// OnDown is called when the connection to or from peer (the peer's
	// listening address) ended other than by a goodbye, or a dial to it
	// failed. It is called from the link's goroutines and must not block.
	OnDown func(peer string, err error)
	// MaxFrame bounds a frame's size, both ways. Default 16 MiB.
	MaxFrame int
	// MaxPending bounds the bytes queued for one peer; Send fails with
	// ErrOverflow beyond it. Default 64 MiB.
	MaxPending int
	// DialTimeout bounds a connection attempt. Default 1 s.
	DialTimeout time.Duration
	// RetryAfter is how long Send fails at once, with ErrPeerDown, after the
	// connection to a peer failed, before it dials again. Default 250 ms.
	RetryAfter time.Duration
	// WriteTimeout bounds one write to a peer that does not read; the
	// connection fails then. Default 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often the link pings each peer it has an open
	// connection to, for the round-trip time (PeerStats.RTT). Pings and
	// pongs wait in the same queues as frames, so the time is the one
	// frames see, queueing included. Default 1 s; a negative value sends
	// no pings (the peers' pings are answered all the same).
	PingInterval time.Duration
	// Logger receives the link's logs. nil means slog.Default().
	Logger *slog.Logger
	// TLS, when not nil, secures every connection: the link accepts with it
	// as a server and dials with it as a client (with ServerName set to the
	// peer's host when it is empty). For mutual TLS give it the node's
	// certificate, the peers' CA in RootCAs and ClientCAs, and
	// ClientAuth: tls.RequireAndVerifyClientCert. Every node must use TLS
	// or none: a handshake that fails closes that connection only.
	TLS *tls.Config
}

func (c Config) withDefaults() Config {
	if c.MaxFrame <= 0 {
		c.MaxFrame = 16 << 20
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 64 << 20
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 250 * time.Millisecond
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Handler == nil {
		c.Handler = func(byte, []byte) {}
	}
	if c.OnDown == nil {
		c.OnDown = func(string, error) {}
	}
	return c
}

// PeerError is a failure of the link to one peer.
type PeerError struct {
	Peer string
	Err  error // wraps one of the package's sentinels
}

func (e *PeerError) Error() string { return fmt.Sprintf("%v (peer %s)", e.Err, e.Peer) }
func (e *PeerError) Unwrap() error { return e.Err }

// Link is one node's end of the data plane: a listener for the peers'
// connections and one outgoing connection per peer it sends to, dialled on
// the first Send. All methods are safe for concurrent use.
type Link struct {
	cfg   Config
	ln    net.Listener
	addr  string
	log   *slog.Logger
	start time.Time // pings' stamps count from it (monotonic)

	out     sync.Map // peer address -> *outConn
	leaving sync.Map // *outConn -> struct{}: forgotten, still flushing
	mu      sync.Mutex
	in      map[net.Conn]struct{}
	inPeer  map[string]*inConn // the newest connection from each peer
	closed  atomic.Bool
	quit    chan struct{}
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	framesSent, bytesSent, writes atomic.Uint64
	framesReceived, bytesReceived atomic.Uint64
	peerFailures                  atomic.Uint64
	pingsSent, pongsReceived      atomic.Uint64
}

// Stats are a link's counters since Listen.
type Stats struct {
	// FramesSent and BytesSent count what was written to peers (frame
	// headers included), counted as each write starts, so that they never
	// lag behind what a peer received; a write that fails still counts
	// (PeerFailures tells). Writes counts the system calls that wrote them,
	// so FramesSent/Writes is how many frames a write carried on average.
	// The link's pings and pongs are in none of the frame and byte
	// counters, here or in PeerStats: they count the caller's traffic.
	FramesSent, BytesSent, Writes uint64
	// FramesReceived and BytesReceived count what peers sent (frame headers
	// included).
	FramesReceived, BytesReceived uint64
	// PeerFailures counts the reports to Config.OnDown.
	PeerFailures uint64
	// PingsSent counts the pings queued for peers, PongsReceived the
	// answers that came back (fewer: those in flight, and those lost with
	// a connection that failed).
	PingsSent, PongsReceived uint64
}

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	return Stats{
		FramesSent: l.framesSent.Load(), BytesSent: l.bytesSent.Load(), Writes: l.writes.Load(),
		FramesReceived: l.framesReceived.Load(), BytesReceived: l.bytesReceived.Load(),
		PeerFailures: l.peerFailures.Load(),
		PingsSent:    l.pingsSent.Load(), PongsReceived: l.pongsReceived.Load(),
	}
}

// Listen starts a link listening on host:port (port 0 picks a free one).
func Listen(host string, port int, cfg Config) (*Link, error) {
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("bourse: link: listen: %w", err)
	}
	l := &Link{
		cfg:   cfg,
		ln:    ln,
		addr:  ln.Addr().String(),
		in:    map[net.Conn]struct{}{},
		quit:  make(chan struct{}),
		start: time.Now(),
	}
	l.log = cfg.Logger.With(slog.String("link", l.addr))
	l.wg.Add(1)
	go l.accept()
	if cfg.PingInterval > 0 {
		l.wg.Add(1)
		go l.pinger()
	}
	return l, nil
}

// Addr returns the address the link listens on, "host:port".
func (l *Link) Addr() string { return l.addr }

// Send queues m as a frame of kind for peer and returns; a writer goroutine
// sends it, together with every other frame queued meanwhile. Frames sent to
// one peer arrive in the order of Send. It fails at once when the link is
// closed, the peer failed within RetryAfter, or too much waits for it, and
// for kind KindLink, which is the link's own.
func (l *Link) Send(peer string, kind byte, m Message) error {
	if kind == KindLink {
		return fmt.Errorf("bourse: link: kind %d is the link's own; callers use 1..255", kind)
	}
	return l.send(peer, kind, m)
}

// send is Send, for the link's own frames too.
func (l *Link) send(peer string, kind byte, m Message) error {
	if l.closed.Load() {
		return ErrClosed
	}
	for {
		v, ok := l.out.Load(peer)
		if !ok {
			v, ok = l.out.LoadOrStore(peer, l.newOut(peer))
			if !ok {
				// A new connection: queue the frame before its writer
				// starts, so that the first Send to a peer always queues
				// (a dial that fails is reported through OnDown).
				c := v.(*outConn)
				err := c.send(kind, m)
				l.startOut(c)
				return err
			}
		}
		c := v.(*outConn)
		err := c.send(kind, m)
		if err == errRedial {
			l.out.CompareAndDelete(peer, c)
			continue
		}
		return err
	}
}

// Forget closes the connection to peer, flushing what is queued for it, and
// forgets it: for a peer that left or restarted at another address. A later
// Send to peer dials again.
func (l *Link) Forget(peer string) {
	v, ok := l.out.LoadAndDelete(peer)
	if !ok {
		return
	}
	c := v.(*outConn)
	c.drop()
	// Until its writer has flushed, Close must still find it (to abort it
	// when its context ends): a peer that stopped reading holds the writer
	// for up to WriteTimeout.
	l.leaving.Range(func(k, _ any) bool { // those done flushing go
		select {
		case <-k.(*outConn).done:
			l.leaving.Delete(k)
		default:
		}
		return true
	})
	l.leaving.Store(c, struct{}{})
}

// Close stops accepting, flushes what is queued for every peer and says
// goodbye, then closes every connection; when ctx ends first, the
// connections are closed at once. It waits for the link's goroutines and is
// idempotent.
func (l *Link) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		l.mu.Unlock()
		close(l.quit)
		_ = l.ln.Close()
		var outs []*outConn
		l.out.Range(func(_, v any) bool {
			c := v.(*outConn)
			outs = append(outs, c)
			c.close()
			return true
		})
		l.leaving.Range(func(k, _ any) bool {
			outs = append(outs, k.(*outConn))
			return true
		})
		flushed := make(chan struct{})
		go func() {
			for _, c := range outs {
				<-c.done
			}
			close(flushed)
		}()
		select {
		case <-flushed:
		case <-ctx.Done():
			for _, c := range outs {
				c.abort()
			}
			<-flushed
			l.closeErr = fmt.Errorf("bourse: link: close: %w", ctx.Err())
		}
		l.mu.Lock()
		for nc := range l.in {
			_ = nc.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
			_, _ = nc.Write([]byte{0})
			_ = nc.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return l.closeErr
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if l.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.log.Error("bourse: link: accept failed; no more peers can connect", slog.Any("error", err))
			return
		}
		l.mu.Lock()
		if l.closed.Load() {
			l.mu.Unlock()
			_ = nc.Close()
			return
		}
		l.in[nc] = struct{}{}
		l.wg.Add(1)
		l.mu.Unlock()
		go l.serve(nc)
	}
}

// inConn is a connection from a peer, as the link reads it.
type inConn struct {
	nc       net.Conn
	done     chan struct{} // closed when its reader returned
	replaced atomic.Bool

	frames, bytes atomic.Uint64 // received on this connection (Peers)
}

// replaceIn makes nc the connection read from peer. An older one is closed,
// and its reader waited for, before nc's first frame is handed on: the peer
// dialled again because it dropped the old one (it had declared this node
// down), and what the old one still carries must not arrive after what the
// new one does.
func (l *Link) replaceIn(peer string, nc net.Conn) *inConn {
	me := &inConn{nc: nc, done: make(chan struct{})}
	l.mu.Lock()
	if l.inPeer == nil {
		l.inPeer = map[string]*inConn{}
	}
	old := l.inPeer[peer]
	l.inPeer[peer] = me
	l.mu.Unlock()
	if old != nil {
		old.replaced.Store(true)
		_ = old.nc.Close()
		<-old.done
	}
	return me
}

// serve reads one peer's frames until the connection ends.
func (l *Link) serve(nc net.Conn) {
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		delete(l.in, nc)
		for p, ic := range l.inPeer {
			if ic.nc == nc {
				delete(l.inPeer, p)
			}
		}
		l.mu.Unlock()
		_ = nc.Close()
	}()
	_ = nc.SetReadDeadline(time.Now().Add(helloTimeout))
	if l.cfg.TLS != nil {
		tc := tls.Server(nc, l.cfg.TLS)
		if err := tc.Handshake(); err != nil {
			if !l.closed.Load() {
				l.log.Warn("bourse: link: TLS handshake failed", slog.String("remote", nc.RemoteAddr().String()), slog.Any("error", err))
			}
			return
		}
		l.mu.Lock()
		delete(l.in, nc)
		if l.closed.Load() { // Close ran meanwhile and closed nc
			l.mu.Unlock()
			return
		}
		nc = tc
		l.in[nc] = struct{}{}
		l.mu.Unlock()
	}
	r := newReader(nc, l.cfg.MaxFrame)
	peer, err := r.hello()
	if err != nil {
		if errors.Is(err, errVersion) {
			refuse(nc)
		}
		if !l.closed.Load() {
			l.log.Warn("bourse: link: rejected a connection", slog.String("remote", nc.RemoteAddr().String()), slog.Any("error", err))
		}
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	me := l.replaceIn(peer, nc)
	defer close(me.done)
	err = r.frames(func(kind byte, body []byte) {
		l.framesReceived.Add(1)
		l.bytesReceived.Add(uint64(len(body) + 5))
		me.frames.Add(1)
		me.bytes.Add(uint64(len(body) + 5))
		l.cfg.Handler(kind, body)
	}, func(sub byte, stamp uint64) {
		l.control(peer, sub, stamp)
	})
	if l.closed.Load() || err == nil || me.replaced.Load() {
		return // goodbye, our own close, or a newer connection from the peer
	}
	if errors.Is(err, ErrProtocol) || errors.Is(err, ErrFrameTooLarge) {
		l.log.Warn("bourse: link: closed a connection that broke the protocol", slog.String("peer", peer), slog.Any("error", err))
	}
	l.peerFailures.Add(1)
	l.cfg.OnDown(peer, &PeerError{Peer: peer, Err: fmt.Errorf("%w: connection from it: %w", ErrPeerDown, err)})
}

// refuse answers a hello of another version with this node's, so that the
// dialer reports the mismatch rather than a connection that ended. It then
// reads what the dialer sent, until the dialer closes or for at most
// closeWriteTimeout: closing with bytes unread would reset the connection,
// which may destroy the answer before the dialer reads it.
func refuse(nc net.Conn) {
	_ = nc.SetWriteDeadline(time.Now().Add(closeWriteTimeout))
	if _, err := nc.Write([]byte{version}); err != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(closeWriteTimeout))
	_, _ = io.CopyN(io.Discard, nc, 1<<20)
}
