package exchange

import (
	"bytes"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The link's hand-written codec must make and read exactly the protobuf
// encoding of boursepb.Request, Reply and Publication: these tests compare
// it with the generated code both ways.

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var wirePayloads = []struct {
	name string
	m    proto.Message
}{
	{"string", wrapperspb.String("ping")},
	{"empty", &emptypb.Empty{}},
	{"zero value", wrapperspb.String("")},
	{"large", wrapperspb.Bytes(bytes.Repeat([]byte{7}, 300000))},
	{"wire type", &boursepb.HandlerInfo{Id: "h1", Pid: &boursepb.Pid{Address: "a:1", Id: "x"}, Node: "n"}},
}

func TestWireRequestIsProtoRequest(t *testing.T) {
	target := actor.NewPID("10.0.0.2:7000", "handler$12")
	for _, p := range wirePayloads {
		for _, async := range []bool{false, true} {
			name := p.name
			if async {
				name += "/async"
			}
			t.Run(name, func(t *testing.T) {
				r := &Request{Exchange: "orders", Tag: "t-1", Key: "EURUSD", ServiceTag: "eu", ConnTag: "c",
					Payload: p.m, corr: 1<<40 + 7, from: "h-7"}
				out := &outRequest{r: r, target: target, replyTo: &boursepb.Pid{Address: "10.0.0.1:7000", Id: ingressID}}
				if async {
					out.deliverTo = actor.NewPID("10.0.0.1:7000", "caller$3")
				}
				b, err := out.AppendTo(nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := out.message()
				if err != nil {
					t.Fatal(err)
				}
				var got boursepb.Request
				if err := proto.Unmarshal(b, &got); err != nil {
					t.Fatalf("the generated code cannot read the frame: %v", err)
				}
				if !proto.Equal(&got, want) {
					t.Fatalf("frame decodes to\n%v\nwant\n%v", &got, want)
				}
				// And back: the generated encoding through the hand decoder.
				enc, err := proto.Marshal(want)
				if err != nil {
					t.Fatal(err)
				}
				in, err := (&Hub{}).decodeRequest(enc)
				if err != nil {
					t.Fatal(err)
				}
				w := want.(*boursepb.Request)
				if in.exchange != w.Exchange || in.tag != w.Tag || in.key != w.Key || in.serviceTag != w.ServiceTag ||
					in.connTag != w.ConnTag || in.corr != w.CorrelationId || in.replyAddr != w.ReplyTo.Address ||
					in.replyID != w.ReplyTo.Id || in.targetAddr != w.Target.Address || in.targetID != w.Target.Id ||
					!in.hasPayload || string(in.url) != w.Payload.TypeUrl || !bytes.Equal(in.value, w.Payload.Value) ||
					!proto.Equal(in.deliverTo, w.DeliverTo) || in.handler != w.Handler || in.handler != "h-7" {
					t.Fatalf("decoded %+v from %v", in, w)
				}
				m, err := newPayload(in.url, in.value)
				if err != nil || !proto.Equal(m, p.m) {
					t.Fatalf("payload %v (%v), want %v", m, err, p.m)
				}
			})
		}
	}
}

func TestWireReplyIsProtoReply(t *testing.T) {
	cases := []*outReply{
		{exchange: "orders", tag: "t", from: "h1", corr: 99, payload: wrapperspb.String("pong")},
		{exchange: "orders", corr: 1, payload: &emptypb.Empty{}},
		{exchange: "orders", corr: 2, err: ErrorToWire("orders", ErrRejected)},
		{exchange: "orders", corr: 3, err: ErrorToWire("orders", &HandlerError{Exchange: "orders", Message: "boom"})},
		{exchange: "orders", corr: 4, payload: wrapperspb.Int64(5), deliverTo: &boursepb.Pid{Address: "a:1", Id: "caller"}},
		{exchange: "orders", corr: 5}, // no payload, no error
	}
	for i, out := range cases {
		b, err := out.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := out.message()
		if err != nil {
			t.Fatal(err)
		}
		var got boursepb.Reply
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !proto.Equal(&got, want) {
			t.Fatalf("case %d: frame decodes to %v, want %v", i, &got, want)
		}
		enc, _ := proto.Marshal(want)
		in, err := (&Hub{}).decodeReply(enc)
		if err != nil {
			t.Fatal(err)
		}
		w := want.(*boursepb.Reply)
		if in.exchange != w.Exchange || in.tag != w.Tag || in.from != w.From || in.corr != w.CorrelationId ||
			in.hasPayload != (w.Payload != nil) || !proto.Equal(in.err, w.Error) ||
			(w.DeliverTo != nil) != (in.deliverTo != nil) {
			t.Fatalf("case %d: decoded %+v from %v", i, in, w)
		}
		if in.deliverTo != nil && (in.deliverTo.Address != w.DeliverTo.Address || in.deliverTo.Id != w.DeliverTo.Id) {
			t.Fatalf("case %d: deliver-to %v, want %v", i, in.deliverTo, w.DeliverTo)
		}
	}
}

func TestWirePublicationIsProtoPublication(t *testing.T) {
	for _, p := range wirePayloads {
		out := &outPublication{exchange: "prices", key: "fx.eur.usd", payload: p.m}
		// The same value goes to several nodes: every frame must be whole.
		for range 2 {
			b, err := out.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			var got boursepb.Publication
			if err := proto.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := &boursepb.Publication{Exchange: "prices", Key: "fx.eur.usd", Payload: mustAny(t, p.m)}
			if !proto.Equal(&got, want) {
				t.Fatalf("%s: frame decodes to %v, want %v", p.name, &got, want)
			}
			in, err := (&Hub{}).decodePublication(b)
			if err != nil || in.exchange != "prices" || in.key != "fx.eur.usd" {
				t.Fatalf("%s: decoded %+v, %v", p.name, in, err)
			}
			m, err := newPayload(in.url, in.value)
			if err != nil || !proto.Equal(m, p.m) {
				t.Fatalf("%s: payload %v (%v)", p.name, m, err)
			}
		}
	}
}

func TestWireRejectsBadInput(t *testing.T) {
	h := &Hub{}
	if _, err := (&outRequest{r: &Request{Exchange: "x"}, target: actor.NewPID("a:1", "b"), replyTo: &boursepb.Pid{}}).AppendTo(nil); err == nil {
		t.Fatal("a request without a payload encoded")
	}
	for _, b := range [][]byte{
		{0x0a, 0x05, 'a'}, // field 1 claims 5 bytes, has 1
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // tag overflows
		{0x0b}, // group start
	} {
		if _, err := h.decodeRequest(b); err == nil {
			t.Fatalf("% x decoded as a request", b)
		}
		if _, err := h.decodeReply(b); err == nil {
			t.Fatalf("% x decoded as a reply", b)
		}
		if _, err := h.decodePublication(b); err == nil {
			t.Fatalf("% x decoded as a publication", b)
		}
	}
	// An Any whose type URL overruns it, in each message's payload field.
	if _, err := h.decodeRequest([]byte{0x42, 0x02, 0x0a, 0x09}); err == nil {
		t.Fatal("a request with a broken payload decoded")
	}
	if _, err := h.decodeReply([]byte{0x2a, 0x02, 0x0a, 0x09}); err == nil {
		t.Fatal("a reply with a broken payload decoded")
	}
	if _, err := h.decodePublication([]byte{0x1a, 0x02, 0x0a, 0x09}); err == nil {
		t.Fatal("a publication with a broken payload decoded")
	}
	if _, err := newPayload([]byte(typeURLPrefix+"no.such.Type"), nil); err == nil {
		t.Fatal("unknown payload type decoded")
	}
}

// FuzzWireDecode feeds arbitrary frames to the decoders: they must not
// panic, and where the generated code reads the same bytes, they must read
// the same scalar fields.
func FuzzWireDecode(f *testing.F) {
	r := &outRequest{r: &Request{Exchange: "e", Tag: "t", Key: "k", Payload: wrapperspb.String("p"), corr: 3},
		target: actor.NewPID("a:1", "h"), replyTo: &boursepb.Pid{Address: "b:2", Id: ingressID}}
	b, _ := r.AppendTo(nil)
	f.Add(b)
	rp := &outReply{exchange: "e", corr: 9, err: ErrorToWire("e", ErrNoHandlers)}
	b, _ = rp.AppendTo(nil)
	f.Add(b)
	p := &outPublication{exchange: "e", key: "a.b", payload: wrapperspb.String(strings.Repeat("x", 40))}
	b, _ = p.AppendTo(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &Hub{}
		if in, err := h.decodeRequest(data); err == nil {
			var m boursepb.Request
			if proto.Unmarshal(data, &m) == nil &&
				(in.exchange != m.Exchange || in.corr != m.CorrelationId || in.tag != m.Tag || in.key != m.Key) {
				t.Fatalf("request: hand %q %d %q %q, generated %q %d %q %q", in.exchange, in.corr, in.tag, in.key,
					m.Exchange, m.CorrelationId, m.Tag, m.Key)
			}
			if in.hasPayload {
				_, _ = newPayload(in.url, in.value)
			}
		}
		if in, err := h.decodeReply(data); err == nil {
			var m boursepb.Reply
			if proto.Unmarshal(data, &m) == nil && (in.exchange != m.Exchange || in.corr != m.CorrelationId || in.from != m.From) {
				t.Fatalf("reply: hand %q %d %q, generated %q %d %q", in.exchange, in.corr, in.from, m.Exchange, m.CorrelationId, m.From)
			}
		}
		if in, err := h.decodePublication(data); err == nil {
			var m boursepb.Publication
			if proto.Unmarshal(data, &m) == nil && (in.exchange != m.Exchange || in.key != m.Key) {
				t.Fatalf("publication: hand %q %q, generated %q %q", in.exchange, in.key, m.Exchange, m.Key)
			}
		}
	})
}
