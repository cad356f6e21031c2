package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func fuzzFrame(kind byte, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
	return append(append(b, kind), body...)
}

var fuzzHello = append([]byte("BRSL\x02\x00\x09"), "1.2.3.4:5"...)

// FuzzReader feeds arbitrary bytes to a connection's decoder: it must return
// an error or a goodbye, never panic, never hand the caller a frame of the
// link's kind nor the link a ping or pong of another sub-kind, and never
// hand over more than the bytes it was given.
func FuzzReader(f *testing.F) {
	seq := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	ping := fuzzFrame(KindLink, "\x01\x00\x00\x00\x00\x00\x00\x30\x39")
	pong := fuzzFrame(KindLink, "\x02\x00\x00\x00\x00\x00\x00\x30\x39")
	f.Add(fuzzHello)
	f.Add(seq(fuzzHello, fuzzFrame(1, "abc"), fuzzFrame(0, "")))
	f.Add(seq(fuzzHello, []byte{0, 0, 0, 0}))
	f.Add(seq(fuzzHello, []byte{0xff, 0xff, 0xff, 0xff, 1}))
	f.Add(seq(fuzzHello, ping, fuzzFrame(1, "abc"), pong, fuzzFrame(0, "")))
	f.Add(seq(fuzzHello, fuzzFrame(KindLink, "\x03\x00\x00\x00\x00\x00\x00\x00\x01")))     // unknown sub-kind
	f.Add(seq(fuzzHello, fuzzFrame(KindLink, "\x01\x00\x00\x00")))                         // short
	f.Add(seq(fuzzHello, fuzzFrame(KindLink, "\x02\x00\x00\x00\x00\x00\x00\x00\x01\x02"))) // long
	f.Add(seq(fuzzHello, ping[:8]))                                                        // truncated
	f.Add([]byte("BRSL\x01\x00\x09" + "1.2.3.4:5"))                                        // version 1
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newReader(bytes.NewReader(data), 1<<12)
		if _, err := r.hello(); err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("hello: %v, not ErrProtocol", err)
			}
			return
		}
		total := 0
		_ = r.frames(func(kind byte, body []byte) {
			if kind == KindLink {
				t.Fatal("a frame of the link's kind handed to the handler")
			}
			total += len(body) + 5
		}, func(sub byte, _ uint64) {
			if sub != subPing && sub != subPong {
				t.Fatalf("sub-kind %d handed over as a ping or a pong", sub)
			}
			total += 5 + controlBody
		})
		if total > len(data) {
			t.Fatalf("handed over %d bytes of %d", total, len(data))
		}
	})
}

// FuzzControl encodes a ping or a pong as the writer does and decodes it as
// the reader does: the same sub-kind and stamp come back, for a ping or a
// pong, and anything else is ErrProtocol.
func FuzzControl(f *testing.F) {
	f.Add(subPing, uint64(12345))
	f.Add(subPong, uint64(1)<<63)
	f.Add(byte(0), uint64(0))
	f.Add(byte(3), uint64(7))
	f.Fuzz(func(t *testing.T, sub byte, stamp uint64) {
		body, _ := control{sub: sub, stamp: stamp}.AppendTo(nil)
		data := append(append([]byte{}, fuzzHello...), fuzzFrame(KindLink, string(body))...)
		r := newReader(bytes.NewReader(data), 1<<12)
		if _, err := r.hello(); err != nil {
			t.Fatal(err)
		}
		got := 0
		err := r.frames(func(kind byte, _ []byte) {
			t.Fatalf("a link frame handed to the handler as kind %d", kind)
		}, func(s byte, st uint64) {
			if s != sub || st != stamp {
				t.Fatalf("decoded (%d, %d), want (%d, %d)", s, st, sub, stamp)
			}
			got++
		})
		switch {
		case sub == subPing || sub == subPong:
			if got != 1 || err == nil || errors.Is(err, ErrProtocol) {
				t.Fatalf("sub-kind %d: %d handed over, then %v (want 1, then the end of the input)", sub, got, err)
			}
		case !errors.Is(err, ErrProtocol) || got != 0:
			t.Fatalf("sub-kind %d: %v after %d handed over, want ErrProtocol at once", sub, err, got)
		}
	})
}
