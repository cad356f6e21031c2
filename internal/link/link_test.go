package link_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/internal/leakcheck"
	"github.com/bourse-go/bourse/internal/link"
	"github.com/bourse-go/bourse/internal/tlstest"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// sink collects the frames a link receives.
type sink struct {
	mu     sync.Mutex
	frames []string
	kinds  []byte
	downs  []error
	got    chan struct{}
}

func newSink() *sink { return &sink{got: make(chan struct{}, 1<<16)} }

func (s *sink) handler(kind byte, body []byte) {
	var m wrapperspb.StringValue
	if err := proto.Unmarshal(body, &m); err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.frames = append(s.frames, m.Value)
	s.kinds = append(s.kinds, kind)
	s.mu.Unlock()
	s.got <- struct{}{}
}

func (s *sink) onDown(_ string, err error) {
	s.mu.Lock()
	s.downs = append(s.downs, err)
	s.mu.Unlock()
}

func (s *sink) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-s.got:
		case <-timeout:
			t.Fatalf("timed out waiting for %d frames", n)
		}
	}
}

// firstDown waits for the first OnDown report and returns its error.
func (s *sink) firstDown(t *testing.T, failure string) error {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		if len(s.downs) > 0 {
			err := s.downs[0]
			s.mu.Unlock()
			return err
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
		time.Sleep(time.Millisecond)
	}
}

func listen(t *testing.T, s *sink, mod func(*link.Config)) *link.Link {
	t.Helper()
	cfg := link.Config{Handler: s.handler, OnDown: s.onDown}
	if mod != nil {
		mod(&cfg)
	}
	l, err := link.Listen("127.0.0.1", 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func str(s string) link.Message { return link.Proto{Message: wrapperspb.String(s)} }

// hello appends a hello of the current version from 1.2.3.4:5 to b.
func hello(b []byte) []byte {
	b = append(b, "BRSL"...)
	b = append(b, 2)
	b = binary.BigEndian.AppendUint16(b, 9)
	return append(b, "1.2.3.4:5"...)
}

func TestFramesArriveInOrderPerSender(t *testing.T) {
	rs := newSink()
	recv := listen(t, rs, nil)
	send := listen(t, newSink(), nil)
	const senders, each = 8, 2000
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := send.Send(recv.Addr(), byte(1+g), str(strconv.Itoa(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rs.wait(t, senders*each)
	next := make([]int, senders)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, f := range rs.frames {
		g := int(rs.kinds[i]) - 1
		if f != strconv.Itoa(next[g]) {
			t.Fatalf("sender %d: got %s, want %d", g, f, next[g])
		}
		next[g]++
	}
	if len(rs.downs) != 0 {
		t.Fatalf("peer reported down: %v", rs.downs)
	}
}

func TestCloseFlushesAndSaysGoodbye(t *testing.T) {
	rs := newSink()
	recv := listen(t, rs, nil)
	ss := newSink()
	send := listen(t, ss, nil)
	for i := range 1000 {
		if err := send.Send(recv.Addr(), 1, str(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := send.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := send.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	rs.wait(t, 1000)
	time.Sleep(50 * time.Millisecond)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.downs) != 0 {
		t.Fatalf("a goodbye was reported as a failure: %v", rs.downs)
	}
	if err := send.Send(recv.Addr(), 1, str("late")); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestPeerGoneIsReportedOnBothSides(t *testing.T) {
	// The receiver's socket is closed under it, as when its process is
	// killed: the sender notices without sending again.
	rs := newSink()
	recv := listen(t, rs, nil)
	ss := newSink()
	send := listen(t, ss, nil)
	if err := send.Send(recv.Addr(), 1, str("x")); err != nil {
		t.Fatal(err)
	}
	rs.wait(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no flush: connections close at once
	_ = recv.Close(ctx)
	err := ss.firstDown(t, "the sender was not told its peer went away")
	if !errors.Is(err, link.ErrPeerDown) {
		t.Fatalf("OnDown error %v does not wrap ErrPeerDown", err)
	}
	// Within RetryAfter, Send fails at once with the same error.
	if err := send.Send(recv.Addr(), 1, str("y")); !errors.Is(err, link.ErrPeerDown) {
		t.Fatalf("Send to a failed peer: %v, want ErrPeerDown", err)
	}
}

func TestUnreachablePeerFailsFastThenRedials(t *testing.T) {
	ss := newSink()
	send := listen(t, ss, func(c *link.Config) { c.RetryAfter = 50 * time.Millisecond })
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	if err := send.Send(dead, 1, str("lost")); err != nil {
		t.Fatalf("first Send queues: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := send.Send(dead, 1, str("x")); errors.Is(err, link.ErrPeerDown) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Send to an unreachable peer never failed")
		}
		time.Sleep(time.Millisecond)
	}
	// A peer that comes up at that address later is dialled again.
	rs := newSink()
	ln2, err := net.Listen("tcp", dead)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", dead, err)
	}
	_ = ln2.Close()
	host, port, _ := net.SplitHostPort(dead)
	p, _ := strconv.Atoi(port)
	recv, err := link.Listen(host, p, link.Config{Handler: rs.handler, OnDown: rs.onDown})
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", dead, err)
	}
	defer recv.Close(context.Background())
	time.Sleep(60 * time.Millisecond)
	if err := send.Send(dead, 1, str("again")); err != nil {
		t.Fatalf("Send after RetryAfter: %v", err)
	}
	rs.wait(t, 1)
}

func TestOversizedFrameIsRefused(t *testing.T) {
	rs := newSink()
	recv := listen(t, rs, nil)
	send := listen(t, newSink(), func(c *link.Config) { c.MaxFrame = 100 })
	err := send.Send(recv.Addr(), 1, str(string(bytes.Repeat([]byte("x"), 200))))
	if !errors.Is(err, link.ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
	if err := send.Send(recv.Addr(), 1, str("small")); err != nil {
		t.Fatal(err)
	}
	rs.wait(t, 1)
}

// TestBadInputClosesOnlyThatConnection writes garbage to a link: it drops
// the connection, reports nothing for it (no hello, no peer) and goes on
// serving others.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	rs := newSink()
	recv := listen(t, rs, func(c *link.Config) { c.MaxFrame = 1 << 10 })
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"zero frame", append(hello(nil), 0, 0, 0, 0, 1)},
		{"huge frame", append(hello(nil), 0x7f, 0xff, 0xff, 0xff, 1)},
		{"truncated", append(hello(nil), 0, 0, 0, 9, 1, 1, 2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", recv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			if tc.name == "truncated" {
				_ = nc.(*net.TCPConn).CloseWrite()
			}
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			var b [1]byte
			if _, err := nc.Read(b[:]); err == nil {
				t.Fatal("the link wrote back")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the link kept a connection that broke the protocol")
			}
		})
	}
	send := listen(t, newSink(), nil)
	if err := send.Send(recv.Addr(), 1, str("still serving")); err != nil {
		t.Fatal(err)
	}
	rs.wait(t, 1)
}

// Forget drops what waits for the peer (it was declared down: what was sent
// to it since may be lost, but never reordered), and the next Send dials
// again: the receiver gets a prefix of what was sent before, in order, then
// what was sent after, and the sender reports no failure. Forget resets the
// connection (drop), so the receiver may read the reset before the new
// connection's hello and report the sender down once (seen under -race in
// CI); it reports nothing else.
func TestForgetDropsAndRedials(t *testing.T) {
	rs := newSink()
	recv := listen(t, rs, nil)
	ss := newSink()
	send := listen(t, ss, nil)
	for i := range 100 {
		if err := send.Send(recv.Addr(), 1, str(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	send.Forget(recv.Addr())
	send.Forget("127.0.0.1:1") // never dialled: nothing to do
	if err := send.Send(recv.Addr(), 1, str("after")); err != nil {
		t.Fatalf("Send after Forget: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs.mu.Lock()
		n := len(rs.frames)
		last := ""
		if n > 0 {
			last = rs.frames[n-1]
		}
		rs.mu.Unlock()
		if last == "after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames, the last %q: want \"after\" last", n, last)
		}
		time.Sleep(time.Millisecond)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, f := range rs.frames[:len(rs.frames)-1] {
		if f != strconv.Itoa(i) {
			t.Fatalf("frame %d is %q: not a prefix in order of what was sent before Forget", i, f)
		}
	}
	for _, d := range rs.downs {
		if msg := d.Error(); !strings.Contains(msg, "connection from it") || !strings.Contains(msg, "reset") {
			t.Fatalf("the receiver reported %v; at most the reset of the forgotten connection", rs.downs)
		}
	}
	if len(rs.downs) > 1 {
		t.Fatalf("the receiver reported %d failures: %v", len(rs.downs), rs.downs)
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.downs) != 0 {
		t.Fatalf("Forget was reported as a failure: %v", ss.downs)
	}
}

func TestTLS(t *testing.T) {
	cfg := tlstest.Config(t)
	rs := newSink()
	recv := listen(t, rs, func(c *link.Config) { c.TLS = cfg })
	send := listen(t, newSink(), func(c *link.Config) { c.TLS = cfg })
	for i := range 500 {
		if err := send.Send(recv.Addr(), 1, str(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	rs.wait(t, 500)
	if err := send.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, f := range rs.frames {
		if f != strconv.Itoa(i) {
			t.Fatalf("frame %d is %s", i, f)
		}
	}
	if len(rs.downs) != 0 {
		t.Fatalf("a TLS goodbye was reported as a failure: %v", rs.downs)
	}
}

// TestTLSMismatchDeliversNothing: a node with TLS and one without, or with
// a CA the other does not trust, cannot talk; the sender is told, the
// receiver hands nothing over.
func TestTLSMismatchDeliversNothing(t *testing.T) {
	cases := []struct {
		name            string
		sendTLS, rcvTLS *tls.Config
	}{
		{"plain to TLS", nil, tlstest.Config(t)},
		{"TLS to plain", tlstest.Config(t), nil},
		{"untrusted CA", tlstest.Config(t), tlstest.Config(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := newSink()
			recv := listen(t, rs, func(c *link.Config) { c.TLS = tc.rcvTLS })
			ss := newSink()
			send := listen(t, ss, func(c *link.Config) { c.TLS = tc.sendTLS })
			_ = send.Send(recv.Addr(), 1, str("secret"))
			ss.firstDown(t, "the sender was not told")
			time.Sleep(20 * time.Millisecond)
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if len(rs.frames) != 0 {
				t.Fatalf("frames crossed a TLS mismatch: %v", rs.frames)
			}
		})
	}
}

// TestForgottenPeerThatDoesNotReadHoldsNothing: Forget of a peer that
// stopped reading (a frozen node) drops what waits at once, so neither the
// writer nor Close waits for it.
func TestForgottenPeerThatDoesNotReadHoldsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if nc, err := ln.Accept(); err == nil {
			accepted <- nc // held open, never read
		}
	}()
	l, err := link.Listen("127.0.0.1", 0, link.Config{})
	if err != nil {
		t.Fatal(err)
	}
	big := str(string(bytes.Repeat([]byte("x"), 1<<20)))
	for range 40 { // more than loopback's socket buffers hold
		if err := l.Send(ln.Addr().String(), 1, big); err != nil {
			t.Fatal(err)
		}
	}
	nc := <-accepted
	defer nc.Close()
	time.Sleep(50 * time.Millisecond) // the writer is blocked in write now
	l.Forget(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v, want nil: nothing was left to flush", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v after Forget", took)
	}
}
