package link_test

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/internal/link"
	"github.com/bourse-go/bourse/internal/tlstest"
)

// rttOf waits until l has a round-trip time to peer and returns its
// PeerStats.
func rttOf(t *testing.T, l *link.Link, peer string) link.PeerStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, p := range l.Peers() {
			if p.Peer == peer && p.RTT > 0 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no round-trip time to %s after 5 s: %+v, %+v", l.Addr(), peer, l.Peers(), l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two links that ping every 10 ms: one sends frames to the other, which
// answers the pings on a connection of its own and pings back on it. Both
// get a round-trip time to the other; no ping or pong reaches a handler or
// the frame and byte counters.
func TestRTTBothWays(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  *tls.Config
	}{{"plain", nil}, {"TLS", tlstest.Config(t)}} {
		t.Run(tc.name, func(t *testing.T) {
			fast := func(c *link.Config) { c.PingInterval = 10 * time.Millisecond; c.TLS = tc.tls }
			rs, ss := newSink(), newSink()
			recv := listen(t, rs, fast)
			send := listen(t, ss, fast)
			const n = 100
			for i := range n {
				if err := send.Send(recv.Addr(), 1, str(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			rs.wait(t, n)
			ps := rttOf(t, send, recv.Addr())
			pr := rttOf(t, recv, send.Addr())
			for _, p := range []link.PeerStats{ps, pr} {
				if p.SmoothedRTT <= 0 || p.RTT > 5*time.Second || p.RTTAt.IsZero() || time.Since(p.RTTAt) > 5*time.Second {
					t.Errorf("%s: RTT %v, smoothed %v, at %v", p.Peer, p.RTT, p.SmoothedRTT, p.RTTAt)
				}
			}
			// A few more rounds, then the counters: the caller's frames alone.
			time.Sleep(50 * time.Millisecond)
			ps, pr = peerOf(send, recv.Addr()), peerOf(recv, send.Addr())
			t.Logf("sender: RTT %v, smoothed %v; receiver: RTT %v, smoothed %v", ps.RTT, ps.SmoothedRTT, pr.RTT, pr.SmoothedRTT)
			sst, rst := send.Stats(), recv.Stats()
			if sst.PingsSent == 0 || sst.PongsReceived == 0 || rst.PingsSent == 0 || rst.PongsReceived == 0 {
				t.Errorf("pings and pongs: sender %+v, receiver %+v", sst, rst)
			}
			if sst.FramesSent != n || rst.FramesReceived != n || rst.BytesReceived != sst.BytesSent {
				t.Errorf("frames: sender %+v, receiver %+v; want %d each way, as many bytes", sst, rst, n)
			}
			if rst.FramesSent != 0 || rst.BytesSent != 0 || rst.Writes != 0 || sst.FramesReceived != 0 || sst.BytesReceived != 0 {
				t.Errorf("pongs and pings counted as frames: receiver %+v, sender %+v", rst, sst)
			}
			if p := peerOf(recv, send.Addr()); !p.Out || p.FramesSent != 0 || p.BytesSent != 0 || p.FramesReceived != n {
				t.Errorf("receiver's Peers: %+v", p)
			}
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if len(rs.frames) != n || len(rs.downs) != 0 {
				t.Errorf("the receiver's handler got %d frames (want %d), OnDown %v", len(rs.frames), n, rs.downs)
			}
			for _, k := range rs.kinds {
				if k != 1 {
					t.Fatalf("the handler got kind %d", k)
				}
			}
			ss.mu.Lock()
			defer ss.mu.Unlock()
			if len(ss.frames) != 0 || len(ss.downs) != 0 {
				t.Errorf("the sender's handler got %v, OnDown %v", ss.frames, ss.downs)
			}
		})
	}
}

// peerOf returns l's PeerStats of peer (zero when it has none).
func peerOf(l *link.Link, peer string) link.PeerStats {
	for _, p := range l.Peers() {
		if p.Peer == peer {
			return p
		}
	}
	return link.PeerStats{}
}

// With a negative PingInterval a link sends no pings but answers its
// peers'.
func TestNoPingsStillAnswers(t *testing.T) {
	quiet := listen(t, newSink(), func(c *link.Config) { c.PingInterval = -1 })
	qs := newSink()
	pinger := listen(t, qs, func(c *link.Config) { c.PingInterval = 10 * time.Millisecond })
	if err := pinger.Send(quiet.Addr(), 1, str("x")); err != nil {
		t.Fatal(err)
	}
	rttOf(t, pinger, quiet.Addr())
	time.Sleep(30 * time.Millisecond)
	if st := quiet.Stats(); st.PingsSent != 0 || st.PongsReceived != 0 {
		t.Errorf("a link without pings: %+v", st)
	}
	if p := peerOf(quiet, pinger.Addr()); !p.Out || p.RTT != 0 {
		t.Errorf("a link without pings, its peer: %+v (want its connection for the pongs, no RTT)", p)
	}
}

// The link's kind is not the caller's.
func TestSendRefusesTheLinksKind(t *testing.T) {
	l := listen(t, newSink(), nil)
	if err := l.Send("127.0.0.1:1", link.KindLink, str("x")); err == nil || !strings.Contains(err.Error(), "link's own") {
		t.Fatalf("Send of kind %d: %v", link.KindLink, err)
	}
	if ps := l.Peers(); len(ps) != 0 {
		t.Fatalf("Send of the link's kind dialled: %+v", ps)
	}
}

// A malformed ping or pong closes the connection it came on, reported with
// ErrProtocol, and hands the handler nothing.
func TestMalformedPingIsProtocolError(t *testing.T) {
	stamp := binary.BigEndian.AppendUint64(nil, 1)
	frame := func(body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
		return append(append(b, link.KindLink), body...)
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"unknown sub-kind", append([]byte{3}, stamp...)},
		{"sub-kind 0", append([]byte{0}, stamp...)},
		{"short ping", []byte{1, 0, 0}},
		{"long pong", append(append([]byte{2}, stamp...), 9)},
		{"huge", bytes.Repeat([]byte{1}, 1<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := newSink()
			recv := listen(t, rs, func(c *link.Config) { c.PingInterval = -1 })
			nc, err := net.Dial("tcp", recv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(append(hello(nil), frame(tc.body)...)); err != nil {
				t.Fatal(err)
			}
			err = rs.firstDown(t, "a malformed link frame was not reported")
			if !errors.Is(err, link.ErrProtocol) || !errors.Is(err, link.ErrPeerDown) {
				t.Fatalf("OnDown: %v, want ErrPeerDown and ErrProtocol", err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			var b [1]byte
			if n, err := nc.Read(b[:]); n != 0 || err == nil {
				t.Fatalf("read %d bytes, %v: want the connection closed", n, err)
			}
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if len(rs.frames) != 0 {
				t.Fatalf("handed over %v", rs.frames)
			}
		})
	}
}

// A hello of another version is refused with the link's own version, the
// one byte it writes besides a goodbye's 0, and a link whose hello is
// refused so reports ErrProtocol, naming both versions.
func TestVersionMismatch(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		recv := listen(t, newSink(), nil)
		nc, err := net.Dial("tcp", recv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		old := hello(nil)
		old[4] = 1
		if _, err := nc.Write(old); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(nc)
		if !bytes.Equal(b, []byte{2}) || err != nil {
			t.Fatalf("read %v, %v: want [2], then the end", b, err)
		}
	})
	t.Run("refusing", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		served := make(chan struct{})
		go func() { // a node of version 3
			defer close(served)
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			defer nc.Close()
			var h [7]byte
			if _, err := io.ReadFull(nc, h[:]); err == nil {
				_, _ = nc.Write([]byte{3})
			}
			_, _ = io.Copy(io.Discard, nc) // until the dialer closes: no reset
		}()
		ss := newSink()
		send := listen(t, ss, nil)
		_ = send.Send(ln.Addr().String(), 1, str("x"))
		err = ss.firstDown(t, "a refused hello was not reported")
		if !errors.Is(err, link.ErrProtocol) || !errors.Is(err, link.ErrPeerDown) || !strings.Contains(err.Error(), "version 3") {
			t.Fatalf("OnDown: %v, want ErrPeerDown and ErrProtocol, with the peer's version 3", err)
		}
		<-served
	})
}
