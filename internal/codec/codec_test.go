package codec

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/bourse-go/bourse/errs"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The codec must make and read exactly the protobuf encoding of
// boursepb.Request, Reply and Publication: these tests compare it with the
// generated code both ways, and pin a few frames byte for byte.

const ingress = "bourse$ingress"

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var payloads = []struct {
	name string
	m    proto.Message
}{
	{"string", wrapperspb.String("ping")},
	{"empty", &emptypb.Empty{}},
	{"zero value", wrapperspb.String("")},
	{"large", wrapperspb.Bytes(bytes.Repeat([]byte{7}, 300000))},
	{"wire type", &boursepb.HandlerInfo{Id: "h1", Pid: &boursepb.Pid{Address: "a:1", Id: "x"}, Node: "n"}},
}

func TestRequestIsProtoRequest(t *testing.T) {
	c := New()
	for _, p := range payloads {
		for _, async := range []bool{false, true} {
			name := p.name
			if async {
				name += "/async"
			}
			t.Run(name, func(t *testing.T) {
				out := c.Request(OutRequest{Exchange: "orders", Tag: "t-1", Key: "EURUSD", ServiceTag: "eu", ConnTag: "c",
					Handler: "h-7", Corr: 1<<40 + 7, ReplyTo: Pid{"10.0.0.1:7000", ingress},
					Target: Pid{"10.0.0.2:7000", "handler$12"}, Payload: p.m})
				if async {
					out.DeliverTo = Pid{"10.0.0.1:7000", "caller$3"}
					out.Budget = 1500 * time.Millisecond
				}
				b, err := out.AppendTo(nil)
				if err != nil {
					t.Fatal(err)
				}
				want, err := out.Proto()
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
				in, err := c.DecodeRequest(enc)
				if err != nil {
					t.Fatal(err)
				}
				w := want.(*boursepb.Request)
				if !in.eq(RequestFromProto(w)) {
					t.Fatalf("decoded %+v, from the generated form %+v", in, RequestFromProto(w))
				}
				if in.Exchange != w.Exchange || in.Tag != w.Tag || in.Key != w.Key || in.ServiceTag != w.ServiceTag ||
					in.ConnTag != w.ConnTag || in.Corr != w.CorrelationId || in.ReplyTo != pidOf(w.ReplyTo) ||
					in.Target != pidOf(w.Target) || !in.HasPayload || string(in.URL) != w.Payload.TypeUrl ||
					!bytes.Equal(in.Value, w.Payload.Value) || in.DeliverTo != pidOf(w.DeliverTo) ||
					in.Handler != w.Handler || in.Handler != "h-7" || uint64(in.Budget) != w.BudgetNano || in.Budget != out.Budget {
					t.Fatalf("decoded %+v from %v", in, w)
				}
				m, err := c.Payload(in.URL, in.Value)
				if err != nil || !proto.Equal(m, p.m) {
					t.Fatalf("payload %v (%v), want %v", m, err, p.m)
				}
			})
		}
	}
}

// eq reports whether in and o hold the same request.
func (in InRequest) eq(o InRequest) bool {
	return in.Exchange == o.Exchange && in.Tag == o.Tag && in.Key == o.Key && in.ServiceTag == o.ServiceTag &&
		in.ConnTag == o.ConnTag && in.Handler == o.Handler && in.Corr == o.Corr && in.ReplyTo == o.ReplyTo &&
		in.Target == o.Target && in.DeliverTo == o.DeliverTo && in.HasPayload == o.HasPayload &&
		bytes.Equal(in.URL, o.URL) && bytes.Equal(in.Value, o.Value) && in.Budget == o.Budget
}

func TestReplyIsProtoReply(t *testing.T) {
	c := New()
	handlerErr := &boursepb.Error{Code: boursepb.Code_CODE_HANDLER, Message: "boom", Exchange: "orders"}
	cases := []OutReply{
		{Exchange: "orders", Tag: "t", From: "h1", Corr: 99, Payload: wrapperspb.String("pong")},
		{Exchange: "orders", Corr: 1, Payload: &emptypb.Empty{}},
		{Exchange: "orders", Corr: 3, Err: handlerErr},
		{Exchange: "orders", Corr: 4, Payload: wrapperspb.Int64(5), DeliverTo: &Pid{"a:1", "caller"}},
		{Exchange: "orders", Corr: 5}, // no payload, no error
	}
	for i, r := range cases {
		out := c.Reply(r)
		b, err := out.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := out.Proto()
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
		in, err := c.DecodeReply(enc)
		if err != nil {
			t.Fatal(err)
		}
		w := want.(*boursepb.Reply)
		if in.Exchange != w.Exchange || in.Tag != w.Tag || in.From != w.From || in.Corr != w.CorrelationId ||
			in.HasPayload != (w.Payload != nil) || !proto.Equal(in.Err, w.Error) || in.DeliverTo != pidOf(w.DeliverTo) {
			t.Fatalf("case %d: decoded %+v from %v", i, in, w)
		}
		back := ReplyFromProto(w)
		if back.Exchange != in.Exchange || back.Corr != in.Corr || back.DeliverTo != in.DeliverTo ||
			!bytes.Equal(back.Value, in.Value) || !proto.Equal(back.Err, in.Err) {
			t.Fatalf("case %d: decoded %+v, from the generated form %+v", i, in, back)
		}
	}
}

func TestPublicationIsProtoPublication(t *testing.T) {
	c := New()
	for _, p := range payloads {
		out := c.Publication(OutPublication{Exchange: "prices", Key: "fx.eur.usd", Payload: p.m})
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
			if w, err := out.Proto(); err != nil || !proto.Equal(w, want) {
				t.Fatalf("%s: generated form %v (%v), want %v", p.name, w, err, want)
			}
			in, err := c.DecodePublication(b)
			if err != nil || in.Exchange != "prices" || in.Key != "fx.eur.usd" {
				t.Fatalf("%s: decoded %+v, %v", p.name, in, err)
			}
			m, err := c.Payload(in.URL, in.Value)
			if err != nil || !proto.Equal(m, p.m) {
				t.Fatalf("%s: payload %v (%v)", p.name, m, err)
			}
		}
	}
}

// TestFramesPinned pins the frames byte for byte, as the codec wrote them
// when it lived in package exchange (wire.go): the format is the protocol
// between nodes of different versions.
func TestFramesPinned(t *testing.T) {
	const anyString = "0a2f747970652e676f6f676c65617069732e636f6d2f676f6f676c652e70726f746f6275662e537472696e6756616c7565"
	req := OutRequest{Exchange: "orders", Tag: "t-1", Key: "EURUSD", ServiceTag: "eu", ConnTag: "c", Handler: "h-7",
		Corr: 1<<40 + 7, ReplyTo: Pid{"10.0.0.1:7000", ingress}, Target: Pid{"10.0.0.2:7000", "handler$12"},
		Payload: wrapperspb.String("ping")}
	async := req
	async.DeliverTo = Pid{"10.0.0.1:7000", "caller$3"}
	// A request with a deadline is the frame of one without, and its budget
	// in field 13 (budget_nano) at the end: pinned when it was added.
	withDeadline := req
	withDeadline.Budget = 1500 * time.Millisecond
	reqHead := "0a066f7264657273108780808080201a03742d3122064555525553442a0265753201633a1f0a0d31302e302e302e313a37303030120e626f7572736524696e67726573734239" +
		anyString + "12060a0470696e67521b0a0d31302e302e302e323a37303030120a68616e646c6572243132"
	for _, c := range []*Codec{New(), nil} {
		for _, tt := range []struct {
			name string
			m    interface{ AppendTo([]byte) ([]byte, error) }
			want string
		}{
			{"request", c.Request(req), reqHead + "6203682d37"},
			{"async request", c.Request(async), reqHead + "5a190a0d31302e302e302e313a37303030120863616c6c65722433" + "6203682d37"},
			{"request with a deadline", c.Request(withDeadline), reqHead + "6203682d37" + "6880dea0cb05"},
			{"reply", c.Reply(OutReply{Exchange: "orders", Tag: "t-1", From: "h-7", Corr: 99, Payload: wrapperspb.String("pong"),
				DeliverTo: &Pid{"10.0.0.1:7000", "caller$3"}}),
				"0a066f726465727310631a03742d312203682d372a39" + anyString + "12060a04706f6e673a190a0d31302e302e302e313a37303030120863616c6c65722433"},
			{"error reply", c.Reply(OutReply{Exchange: "orders", Corr: 2,
				Err: &boursepb.Error{Code: boursepb.Code_CODE_HANDLER, Message: "boom", Exchange: "orders"}}),
				"0a066f72646572731002321008041204626f6f6d1a066f7264657273"},
			{"publication", c.Publication(OutPublication{Exchange: "prices", Key: "fx.eur.usd", Payload: wrapperspb.Double(1.25)}),
				"0a06707269636573120a66782e6575722e7573641a3c0a2f747970652e676f6f676c65617069732e636f6d2f676f6f676c652e70726f746f6275662e446f75626c6556616c7565120909000000000000f43f"},
		} {
			for range 2 { // the second time from the caches
				b, err := tt.m.AppendTo(nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(b); got != tt.want {
					t.Fatalf("%s (codec %v): frame\n%s\nwant\n%s", tt.name, c != nil, got, tt.want)
				}
			}
		}
	}
}

func TestRejectsBadInput(t *testing.T) {
	c := New()
	if _, err := c.Request(OutRequest{Exchange: "x", Target: Pid{"a:1", "b"}}).AppendTo(nil); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("a request without a payload encoded, or failed with %v", err)
	}
	for _, b := range [][]byte{
		{0x0a, 0x05, 'a'}, // field 1 claims 5 bytes, has 1
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // tag overflows
		{0x0b}, // group start
	} {
		if _, err := c.DecodeRequest(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("% x decoded as a request, or failed with %v", b, err)
		}
		if _, err := c.DecodeReply(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("% x decoded as a reply, or failed with %v", b, err)
		}
		if _, err := c.DecodePublication(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("% x decoded as a publication, or failed with %v", b, err)
		}
	}
	// An Any whose type URL overruns it, in each message's payload field.
	if _, err := c.DecodeRequest([]byte{0x42, 0x02, 0x0a, 0x09}); err == nil {
		t.Fatal("a request with a broken payload decoded")
	}
	if _, err := c.DecodeReply([]byte{0x2a, 0x02, 0x0a, 0x09}); err == nil {
		t.Fatal("a reply with a broken payload decoded")
	}
	if _, err := c.DecodePublication([]byte{0x1a, 0x02, 0x0a, 0x09}); err == nil {
		t.Fatal("a publication with a broken payload decoded")
	}
	if _, err := c.Payload([]byte(typeURLPrefix+"no.such.Type"), nil); err == nil {
		t.Fatal("unknown payload type decoded")
	}
}

// TestCachesBelongToTheCodec: two codecs share no cache, and a codec's
// interner gives back one string per content.
func TestCachesBelongToTheCodec(t *testing.T) {
	a, b := New(), New()
	s := a.Intern([]byte("orders"))
	if got := a.Intern([]byte("orders")); got != s || !sameString(got, s) {
		t.Fatal("the interner made a second string for the same bytes")
	}
	if _, ok := b.strs.Get("orders"); ok {
		t.Fatal("a string interned by one codec is in another's cache")
	}
	a.TypeURL(wrapperspb.String(""))
	if _, ok := b.typeURLs.Get("google.protobuf.StringValue"); ok {
		t.Fatal("a type URL cached by one codec is in another's cache")
	}
	if _, err := a.Payload([]byte(a.TypeURL(wrapperspb.String(""))), nil); err != nil {
		t.Fatal(err)
	}
	if len(b.msgTypes.load()) != 0 || len(a.msgTypes.load()) != 1 {
		t.Fatal("message types cached in the wrong codec")
	}
}

// sameString reports whether a and b are one string in memory.
func sameString(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestCacheIsBounded(t *testing.T) {
	var c Cache[int]
	for i := range cacheLimit + 10 {
		c.Put(strings.Repeat("k", i+1), i)
	}
	if n := len(c.load()); n > cacheLimit {
		t.Fatalf("%d entries, limit %d", n, cacheLimit)
	}
	if v, ok := c.Get(strings.Repeat("k", cacheLimit+10)); !ok || v != cacheLimit+9 {
		t.Fatalf("the last key put is %d, %v", v, ok)
	}
}

// TestDecodeAllocations: decoding a request whose strings are interned
// allocates only the strings that are not (tag, key).
func TestDecodeAllocations(t *testing.T) {
	c := New()
	b, err := c.Request(OutRequest{Exchange: "orders", Tag: "t-1", Key: "EURUSD", Handler: "h-7", Corr: 3,
		ReplyTo: Pid{"10.0.0.1:7000", ingress}, Target: Pid{"10.0.0.2:7000", "handler$12"}, Payload: wrapperspb.String("ping")}).AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DecodeRequest(b); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = c.DecodeRequest(b) }); n > 2 {
		t.Fatalf("%v allocations per decoded request, want at most 2", n)
	}
	out := c.Request(OutRequest{Exchange: "orders", Handler: "h-7", Corr: 3, ReplyTo: Pid{"10.0.0.1:7000", ingress},
		Target: Pid{"10.0.0.2:7000", "handler$12"}, Payload: wrapperspb.String("ping")})
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _, _ = out.AppendTo(buf[:0]) }); n != 0 {
		t.Fatalf("%v allocations per encoded request, want 0", n)
	}
}

// FuzzDecode feeds arbitrary frames to the decoders: they must not panic,
// and where the generated code reads the same bytes, they must read the
// same scalar fields.
func FuzzDecode(f *testing.F) {
	c := New()
	b, _ := c.Request(OutRequest{Exchange: "e", Tag: "t", Key: "k", Payload: wrapperspb.String("p"), Corr: 3,
		Target: Pid{"a:1", "h"}, ReplyTo: Pid{"b:2", ingress}}).AppendTo(nil)
	f.Add(b)
	b, _ = c.Reply(OutReply{Exchange: "e", Corr: 9, Err: &boursepb.Error{Code: boursepb.Code_CODE_NO_HANDLERS, Message: "none"}}).AppendTo(nil)
	f.Add(b)
	b, _ = c.Publication(OutPublication{Exchange: "e", Key: "a.b", Payload: wrapperspb.String(strings.Repeat("x", 40))}).AppendTo(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := New()
		if in, err := c.DecodeRequest(data); err == nil {
			var m boursepb.Request
			// Scalars only: the generated code merges a repeated message
			// field (a Pid, the Any), the hand decoder keeps the last.
			if proto.Unmarshal(data, &m) == nil && (in.Exchange != m.Exchange || in.Corr != m.CorrelationId ||
				in.Tag != m.Tag || in.Key != m.Key || in.ServiceTag != m.ServiceTag || in.ConnTag != m.ConnTag ||
				in.Handler != m.Handler || in.HasPayload != (m.Payload != nil)) {
				t.Fatalf("request: hand %+v, generated %v", in, &m)
			}
			if in.HasPayload {
				_, _ = c.Payload(in.URL, in.Value)
			}
		}
		if in, err := c.DecodeReply(data); err == nil {
			var m boursepb.Reply
			if proto.Unmarshal(data, &m) == nil && (in.Exchange != m.Exchange || in.Corr != m.CorrelationId || in.From != m.From) {
				t.Fatalf("reply: hand %q %d %q, generated %q %d %q", in.Exchange, in.Corr, in.From, m.Exchange, m.CorrelationId, m.From)
			}
		}
		if in, err := c.DecodePublication(data); err == nil {
			var m boursepb.Publication
			if proto.Unmarshal(data, &m) == nil && (in.Exchange != m.Exchange || in.Key != m.Key) {
				t.Fatalf("publication: hand %q %q, generated %q %q", in.Exchange, in.Key, m.Exchange, m.Key)
			}
		}
	})
}

// TestProtoSharesTheReplyAddress: the protobuf form of the requests of one
// node shares one ReplyTo, as the hub used to keep it, so that a request
// through remote costs no Pid for it.
func TestProtoSharesTheReplyAddress(t *testing.T) {
	c := New()
	form := func(reply Pid) *boursepb.Request {
		m, err := c.Request(OutRequest{Exchange: "e", ReplyTo: reply, Target: Pid{"b:2", "h"}, Payload: wrapperspb.String("p")}).Proto()
		if err != nil {
			t.Fatal(err)
		}
		return m.(*boursepb.Request)
	}
	a, b := form(Pid{"a:1", ingress}), form(Pid{"a:1", ingress})
	if a.ReplyTo != b.ReplyTo {
		t.Fatal("two requests with one reply address have two Pids")
	}
	if o := form(Pid{"a:2", ingress}); o.ReplyTo == a.ReplyTo || o.ReplyTo.Address != "a:2" || a.ReplyTo.Address != "a:1" {
		t.Fatalf("reply addresses %v and %v", a.ReplyTo, o.ReplyTo)
	}
}

// TestBudgetTravels: the caller's time left crosses as budget_nano, a
// request without a deadline has no field 13 (its frame is the one nodes of
// earlier versions write), and a frame without it, or with a field this
// version does not know, decodes.
func TestBudgetTravels(t *testing.T) {
	c := New()
	base := OutRequest{Exchange: "orders", Corr: 9, ReplyTo: Pid{"10.0.0.1:7000", ingress},
		Target: Pid{"10.0.0.2:7000", "handler$12"}, Payload: wrapperspb.String("ping")}
	plain, err := c.Request(base).AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		budget time.Duration
		want   time.Duration
		field  bool // field 13 written
	}{
		{"none", 0, 0, false},
		{"negative", -time.Second, 0, false},
		{"one nanosecond", 1, 1, true},
		{"a second and a half", 1500 * time.Millisecond, 1500 * time.Millisecond, true},
		{"the longest", math.MaxInt64, math.MaxInt64, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.Budget = tt.budget
			b, err := c.Request(r).AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.HasPrefix(b, plain) && len(b) > len(plain); got != tt.field {
				t.Fatalf("field 13 written: %v, want %v (frame %x)", got, tt.field, b)
			}
			in, err := c.DecodeRequest(b)
			if err != nil || in.Budget != tt.want {
				t.Fatalf("decoded budget %v (%v), want %v", in.Budget, err, tt.want)
			}
			w, err := c.Request(r).Proto()
			if err != nil {
				t.Fatal(err)
			}
			if got := RequestFromProto(w.(*boursepb.Request)).Budget; got != tt.want {
				t.Fatalf("through remote: budget %v, want %v", got, tt.want)
			}
		})
	}
	// A budget above the longest Duration (no node writes one) is capped.
	huge := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), plain...), 13, protowire.VarintType), math.MaxUint64)
	if in, err := c.DecodeRequest(huge); err != nil || in.Budget != math.MaxInt64 {
		t.Fatalf("budget_nano 2^64-1 decoded as %v (%v)", in.Budget, err)
	}
	// A field this version does not know is skipped, as versions before
	// budget_nano skip field 13.
	unknown := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), plain...), 14, protowire.VarintType), 7)
	if in, err := c.DecodeRequest(unknown); err != nil || in.Budget != 0 || in.Exchange != "orders" {
		t.Fatalf("a frame with an unknown field decoded as %+v (%v)", in, err)
	}
}
