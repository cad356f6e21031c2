package link

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzReader feeds arbitrary bytes to a connection's decoder: it must return
// an error or a goodbye, never panic, and never hand over more than the
// bytes it was given.
func FuzzReader(f *testing.F) {
	frame := func(kind byte, body string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
		return append(append(b, kind), body...)
	}
	hello := append([]byte("BRSL\x01\x00\x09"), "1.2.3.4:5"...)
	f.Add(hello)
	f.Add(append(append(append([]byte{}, hello...), frame(1, "abc")...), frame(0, "")...))
	f.Add(append(append([]byte{}, hello...), 0, 0, 0, 0))
	f.Add(append(append([]byte{}, hello...), 0xff, 0xff, 0xff, 0xff, 1))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newReader(bytes.NewReader(data), 1<<12)
		if _, err := r.hello(); err != nil {
			return
		}
		total := 0
		_ = r.frames(func(kind byte, body []byte) {
			if kind == KindGoodbye {
				t.Fatal("goodbye handed to the handler")
			}
			total += len(body) + 5
		})
		if total > len(data) {
			t.Fatalf("handed over %d bytes of %d", total, len(data))
		}
	})
}
