package codec

import (
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"testing"

	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
)

// An advert's frame is boursepb.CapacityAdvert's encoding, both ways.
func TestAdvertIsProtoAdvert(t *testing.T) {
	c := New()
	for i, a := range []OutAdvert{
		{Exchange: "orders", Handlers: []HandlerFree{{ID: "h1", Free: 1}, {ID: "h2", Free: 0}, {ID: "h3", Free: -7}}},
		{Exchange: "orders", Handlers: []HandlerFree{{ID: "h", Free: math.MaxInt32}, {ID: "g", Free: math.MinInt32}}},
		{Exchange: "orders"}, // every handler withdrawn
		{Exchange: "orders", Handlers: []HandlerFree{{}}},
	} {
		b, err := a.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := a.Proto()
		if err != nil {
			t.Fatal(err)
		}
		var got boursepb.CapacityAdvert
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !proto.Equal(&got, want) {
			t.Fatalf("case %d: frame decodes to %v, want %v", i, &got, want)
		}
		enc, _ := proto.MarshalOptions{Deterministic: true}.Marshal(want)
		if !slices.Equal(enc, b) {
			t.Fatalf("case %d: frame %x, generated %x", i, b, enc)
		}
		in, err := c.DecodeAdvert(enc)
		if err != nil {
			t.Fatal(err)
		}
		if in.Exchange != a.Exchange || !slices.Equal(in.Handlers, a.Handlers) {
			t.Fatalf("case %d: decoded %+v from %+v", i, in, a)
		}
		back := AdvertFromProto(want.(*boursepb.CapacityAdvert))
		if back.Exchange != in.Exchange || !slices.Equal(back.Handlers, in.Handlers) {
			t.Fatalf("case %d: decoded %+v, from the generated form %+v", i, in, back)
		}
	}
}

func TestAdvertPinned(t *testing.T) {
	b, _ := (&OutAdvert{Exchange: "orders", Handlers: []HandlerFree{{ID: "h1", Free: 1}, {ID: "h2", Free: -2}}}).AppendTo(nil)
	const want = "0a066f72646572731206 0a0268311002 1206 0a0268321003"
	if got := hex.EncodeToString(b); got != stripSpaces(want) {
		t.Fatalf("advert frame\n%s\nwant\n%s", got, stripSpaces(want))
	}
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestAdvertRejectsBadInput(t *testing.T) {
	c := New()
	for _, b := range [][]byte{
		{0x0a, 0x05, 'a'},             // the exchange claims 5 bytes, has 1
		{0x12, 0x03, 0x0a, 0x05, 'h'}, // a handler whose id overruns it
		{0x12, 0x02, 0x10, 0xff},      // a handler whose free is a truncated varint
		{0x0b},                        // group start
	} {
		if _, err := c.DecodeAdvert(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("% x decoded as an advert, or failed with %v", b, err)
		}
	}
}

func FuzzDecodeAdvert(f *testing.F) {
	b, _ := (&OutAdvert{Exchange: "e", Handlers: []HandlerFree{{ID: "a", Free: 3}, {ID: "b", Free: -1}}}).AppendTo(nil)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := New().DecodeAdvert(data)
		if err != nil {
			return
		}
		var m boursepb.CapacityAdvert
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		// The generated code merges a repeated field's parts the hand
		// decoder keeps apart only for the handlers' own fields: compare
		// what both must agree on.
		if in.Exchange != m.GetExchange() || len(in.Handlers) != len(m.GetHandlers()) {
			t.Fatalf("hand %+v, generated %v", in, &m)
		}
		for i, h := range m.GetHandlers() {
			if in.Handlers[i].ID != h.GetId() || in.Handlers[i].Free != h.GetFree() {
				t.Fatalf("handler %d: hand %+v, generated %v", i, in.Handlers[i], h)
			}
		}
	})
}
