package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// The smoothed round-trip time starts at the first sample and moves 1/8 of
// the way to each next one.
func TestSmoothedRTT(t *testing.T) {
	var c outConn
	for _, tc := range []struct{ sample, want time.Duration }{
		{800 * time.Microsecond, 800 * time.Microsecond},
		{1600 * time.Microsecond, 900 * time.Microsecond},
		{100 * time.Microsecond, 800 * time.Microsecond},
	} {
		at := time.Now()
		c.sample(tc.sample, at)
		if c.rtt != tc.sample || c.srtt != tc.want || !c.rttAt.Equal(at) {
			t.Fatalf("after %v: last %v, smoothed %v (want %v), at %v", tc.sample, c.rtt, c.srtt, tc.want, c.rttAt)
		}
	}
}

// The reader rejects a link frame that is not a goodbye, a ping or a pong
// with ErrProtocol, whatever MaxFrame is, and hands nothing over.
func TestReaderRejectsMalformedLinkFrames(t *testing.T) {
	frame := func(body ...byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
		return append(append(b, KindLink), body...)
	}
	stamp := binary.BigEndian.AppendUint64(nil, 42)
	for _, tc := range []struct {
		name string
		data []byte
		want error // nil: read to the end (io.EOF)
	}{
		{"ping", frame(append([]byte{subPing}, stamp...)...), nil},
		{"pong", frame(append([]byte{subPong}, stamp...)...), nil},
		{"unknown sub-kind", frame(append([]byte{9}, stamp...)...), ErrProtocol},
		{"no stamp", frame(subPing), ErrProtocol},
		{"short stamp", frame(subPong, 1, 2, 3, 4, 5, 6, 7), ErrProtocol},
		{"long", frame(append(append([]byte{subPing}, stamp...), 0)...), ErrProtocol},
		{"larger than MaxFrame", frame(bytes.Repeat([]byte{subPing}, 64)...), ErrProtocol},
		{"truncated", frame(append([]byte{subPing}, stamp...)...)[:9], ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append(append([]byte{}, fuzzHello...), tc.data...)
			r := newReader(bytes.NewReader(data), 16)
			if _, err := r.hello(); err != nil {
				t.Fatal(err)
			}
			var got []uint64
			err := r.frames(func(kind byte, _ []byte) { t.Fatalf("kind %d handed to the handler", kind) },
				func(_ byte, s uint64) { got = append(got, s) })
			if tc.want == nil {
				if err == nil || errors.Is(err, ErrProtocol) || len(got) != 1 || got[0] != 42 {
					t.Fatalf("%v, stamps %v: want stamp 42, then the end", err, got)
				}
				return
			}
			if !errors.Is(err, tc.want) || len(got) != 0 {
				t.Fatalf("%v, stamps %v: want %v, nothing handed over", err, got, tc.want)
			}
		})
	}
}
