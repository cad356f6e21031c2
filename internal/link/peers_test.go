package link_test

import (
	"context"
	"testing"
	"time"

	"github.com/bourse-go/bourse/internal/link"
)

// Peers lists each peer with its connection's counters on both sides, and
// a failed connection with its error.
func TestPeersCountsEachPeer(t *testing.T) {
	noPings := func(c *link.Config) { c.PingInterval = -1 } // a pong would open a connection back
	rs := newSink()
	recv := listen(t, rs, noPings)
	ss := newSink()
	send := listen(t, ss, noPings)
	const n = 10
	for range n {
		if err := send.Send(recv.Addr(), 1, str("x")); err != nil {
			t.Fatal(err)
		}
	}
	rs.wait(t, n)

	out := send.Peers()
	if len(out) != 1 || out[0].Peer != recv.Addr() || !out[0].Out || out[0].In || out[0].FramesSent != n || out[0].BytesSent == 0 {
		t.Fatalf("sender's Peers: %+v", out)
	}
	in := recv.Peers()
	if len(in) != 1 || in[0].Peer != send.Addr() || !in[0].In || in[0].Out || in[0].FramesReceived != n || in[0].BytesReceived != out[0].BytesSent {
		t.Fatalf("receiver's Peers: %+v (sender wrote %d bytes)", in, out[0].BytesSent)
	}

	// The receiver goes away: the sender's connection fails with an error.
	if err := recv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps := send.Peers()
		if len(ps) == 1 && !ps[0].Out && ps[0].OutError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sender's Peers after the receiver closed: %+v", ps)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPeersEmpty(t *testing.T) {
	l := listen(t, newSink(), nil)
	if ps := l.Peers(); len(ps) != 0 {
		t.Fatalf("Peers of a new link: %+v", ps)
	}
}
