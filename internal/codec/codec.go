// Package codec is the data link's codec: it writes and reads the frames
// that carry requests, replies, publications and capacity adverts between
// nodes. Its frames are the protobuf encodings of boursepb.Request, Reply,
// Publication and CapacityAdvert, byte
// for byte (codec_test.go checks both ways), but written and read by hand:
// the generic path costs, per request, a boursepb.Request, three Pids and an
// Any to allocate and then to decode again, and an Any's payload marshalled
// twice. Here the payload is marshalled once, straight into the link's
// buffer, and decoding goes from the frame to plain values, with the strings
// that repeat (exchange names, addresses, ids, type URLs) interned.
//
// The package knows nothing of hubs, actors or links: a Codec holds only its
// caches, and every function depends on its arguments, those caches and the
// process's protobuf registry alone, so that the codec is tested and fuzzed
// on its own. A hub makes one
// Codec and keeps it; a nil *Codec works too, caching nothing.
//
// The same messages also travel through protoactor remote, between nodes
// without a data link: the Proto methods give the generated form, and
// RequestFromProto, ReplyFromProto and PublicationFromProto read it back
// into the values the decoders return.
package codec

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/errs"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Frame kinds of the data link: which message a frame's body holds.
const (
	KindRequest byte = 1 + iota
	KindReply
	KindPublication
	// KindAdvert is a capacity advert (boursepb.CapacityAdvert, advert.go).
	KindAdvert
)

// ErrMalformed is wrapped by the decoders' errors. It wraps errs.ErrInvalid,
// as do the encoders' errors.
var ErrMalformed = fmt.Errorf("%w: malformed frame", errs.ErrInvalid)

const typeURLPrefix = "type.googleapis.com/"

// Codec holds the caches of one hub's codec: the interned strings of the
// frames it decodes, the type URLs of the payloads it encodes and the
// message types of those it decodes. It is safe for concurrent use.
type Codec struct {
	strs     Cache[string] // key and value are the same string
	typeURLs Cache[string] // message full name -> type URL
	msgTypes Cache[protoreflect.MessageType]
	// replyTo is the last ReplyTo that OutRequest.Proto gave, shared
	// read-only by the requests that repeat it (their node's ingress).
	replyTo atomic.Pointer[boursepb.Pid]
}

// New returns a Codec with empty caches.
func New() *Codec { return &Codec{} }

// Cache is a map read without a lock and copied on write, for small sets of
// keys that are read on every message and written rarely: the codec's
// caches are made of it, and callers use it for what they keep per decoded
// string (a hub keeps a PID per handler id). It is bounded: when full, it
// starts again empty, so that keys that come and go (handler ids) cannot
// grow it without end. The zero value is empty and ready.
type Cache[V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]V]
}

// cacheLimit bounds a Cache.
const cacheLimit = 4096

// Get returns the value of k.
func (c *Cache[V]) Get(k string) (V, bool) {
	v, ok := c.load()[k]
	return v, ok
}

func (c *Cache[V]) load() map[string]V {
	if p := c.m.Load(); p != nil {
		return *p
	}
	return nil
}

// Put sets the value of k.
func (c *Cache[V]) Put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.load()
	var next map[string]V
	if len(old) >= cacheLimit {
		next = make(map[string]V, 1)
	} else {
		next = make(map[string]V, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
	}
	next[k] = v
	c.m.Store(&next)
}

// Intern returns b as a string, the same string for the same bytes while
// it stays in the cache.
func (c *Codec) Intern(b []byte) string {
	if c == nil {
		return string(b)
	}
	if s, ok := c.strs.load()[string(b)]; ok {
		return s
	}
	s := string(b)
	c.strs.Put(s, s)
	return s
}

// TypeURL returns the type URL of m's type, as an Any holding m has it.
func (c *Codec) TypeURL(m proto.Message) string {
	name := m.ProtoReflect().Descriptor().FullName()
	if c == nil {
		return typeURLPrefix + string(name)
	}
	if u, ok := c.typeURLs.load()[string(name)]; ok {
		return u
	}
	u := typeURLPrefix + string(name)
	c.typeURLs.Put(string(name), u)
	return u
}

// Payload decodes an Any's value of type url, a type of the process's
// protobuf registry.
func (c *Codec) Payload(url, value []byte) (proto.Message, error) {
	var mt protoreflect.MessageType
	var ok bool
	if c != nil {
		mt, ok = c.msgTypes.load()[string(url)]
	}
	if !ok {
		var err error
		if mt, err = protoregistry.GlobalTypes.FindMessageByURL(string(url)); err != nil {
			return nil, err
		}
		if c != nil {
			c.msgTypes.Put(string(url), mt)
		}
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(value, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Pid is a boursepb.Pid as plain strings: an actor's address and id.
type Pid struct{ Address, ID string }

// IsZero reports whether p names no actor.
func (p Pid) IsZero() bool { return p.Address == "" && p.ID == "" }

// proto returns p's generated form, nil when p is zero.
func (p Pid) proto() *boursepb.Pid {
	if p.IsZero() {
		return nil
	}
	return &boursepb.Pid{Address: p.Address, Id: p.ID}
}

// replyToProto returns p's generated form, shared with the requests before
// that had the same.
func (c *Codec) replyToProto(p Pid) *boursepb.Pid {
	if c == nil {
		return &boursepb.Pid{Address: p.Address, Id: p.ID}
	}
	if w := c.replyTo.Load(); w != nil && w.GetAddress() == p.Address && w.GetId() == p.ID {
		return w
	}
	w := &boursepb.Pid{Address: p.Address, Id: p.ID}
	c.replyTo.Store(w)
	return w
}

// pidOf reads a generated Pid.
func pidOf(p *boursepb.Pid) Pid { return Pid{Address: p.GetAddress(), ID: p.GetId()} }

// --- encoding ---

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func sizeString(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeBytes(len(s))
}

// appendPid appends a boursepb.Pid field.
func appendPid(b []byte, num protowire.Number, p Pid) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeString(p.Address)+sizeString(p.ID)))
	b = appendString(b, 1, p.Address)
	return appendString(b, 2, p.ID)
}

// appendAny appends m as a google.protobuf.Any field, marshalling m once,
// in place.
func (c *Codec) appendAny(b []byte, num protowire.Number, m proto.Message) ([]byte, error) {
	url := c.TypeURL(m)
	n := proto.Size(m)
	inner := sizeString(url) + 1 + protowire.SizeBytes(n)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(inner))
	b = appendString(b, 1, url)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	at := len(b)
	b, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
	if err != nil {
		return b, err
	}
	if len(b)-at != n {
		return b, fmt.Errorf("%s changed while it was marshalled", m.ProtoReflect().Descriptor().FullName())
	}
	return b, nil
}

// appendMessage appends m as a message field.
func appendMessage(b []byte, num protowire.Number, m proto.Message) ([]byte, error) {
	n := proto.Size(m)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
}

// marshalAny returns m in an Any, nil for nil.
func marshalAny(m proto.Message) (*anypb.Any, error) {
	if m == nil {
		return nil, nil
	}
	return anypb.New(m)
}

// OutRequest is a request for handler Target on another node; the reply
// goes to the ingress ReplyTo, and from there on to DeliverTo when it is
// set (an asynchronous caller). Its methods make a link frame (AppendTo) or
// the message for protoactor remote (Proto); Codec.Request binds it to the
// codec whose caches they use.
type OutRequest struct {
	Exchange, Tag, Key, ServiceTag, ConnTag string
	// Handler is the id of the handler's connection the request was
	// routed to; it comes back as the reply's From.
	Handler string
	Corr    uint64
	ReplyTo Pid // written even when zero
	Target  Pid
	// DeliverTo is written when it is not zero.
	DeliverTo Pid
	Payload   proto.Message
	// Budget is the time left until the caller's deadline, 0 for none
	// (written when above 0, as budget_nano: field 13, after every field
	// the format had before it, so that a request without a deadline is
	// the frame it always was, and a node of an earlier version skips it).
	Budget time.Duration

	codec *Codec
}

// Request returns r, bound to c.
func (c *Codec) Request(r OutRequest) *OutRequest {
	r.codec = c
	return &r
}

// AppendTo appends r's frame body to b: a boursepb.Request.
func (r *OutRequest) AppendTo(b []byte) ([]byte, error) {
	if r.Payload == nil {
		return b, fmt.Errorf("%w: nil payload", errs.ErrInvalid)
	}
	b = appendString(b, 1, r.Exchange)
	b = appendUint(b, 2, r.Corr)
	b = appendString(b, 3, r.Tag)
	b = appendString(b, 4, r.Key)
	b = appendString(b, 5, r.ServiceTag)
	b = appendString(b, 6, r.ConnTag)
	b = appendPid(b, 7, r.ReplyTo)
	b, err := r.codec.appendAny(b, 8, r.Payload)
	if err != nil {
		return b, fmt.Errorf("%w: payload: %v", errs.ErrInvalid, err)
	}
	b = appendPid(b, 10, r.Target)
	if !r.DeliverTo.IsZero() {
		b = appendPid(b, 11, r.DeliverTo)
	}
	b = appendString(b, 12, r.Handler)
	return appendUint(b, 13, budgetNano(r.Budget)), nil
}

// budgetNano is d as budget_nano: 0 for none (0 or less).
func budgetNano(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d)
}

// budgetOf reads budget_nano, capped at the longest Duration.
func budgetOf(v uint64) time.Duration {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(v)
}

// Proto returns r as a *boursepb.Request.
func (r *OutRequest) Proto() (proto.Message, error) {
	payload, err := anypb.New(r.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", errs.ErrInvalid, err)
	}
	return &boursepb.Request{
		Exchange: r.Exchange, CorrelationId: r.Corr, Tag: r.Tag, Key: r.Key, ServiceTag: r.ServiceTag,
		ConnTag: r.ConnTag, ReplyTo: r.codec.replyToProto(r.ReplyTo), Payload: payload,
		Target: &boursepb.Pid{Address: r.Target.Address, Id: r.Target.ID}, DeliverTo: r.DeliverTo.proto(), Handler: r.Handler,
		BudgetNano: budgetNano(r.Budget),
	}, nil
}

// OutReply is a handler's answer to a caller on another node: Payload, or
// Err when the handler (or the exchange) failed.
type OutReply struct {
	Exchange, Tag string
	// From is the id of the handler's connection that answered.
	From      string
	Corr      uint64
	Payload   proto.Message
	Err       *boursepb.Error
	DeliverTo *Pid // written when not nil
	// Free is the answering handler's free capacity (its advert), written
	// when HasFree.
	Free    int32
	HasFree bool

	codec *Codec
}

// Reply returns r, bound to c.
func (c *Codec) Reply(r OutReply) *OutReply {
	r.codec = c
	return &r
}

// AppendTo appends r's frame body to b: a boursepb.Reply.
func (r *OutReply) AppendTo(b []byte) ([]byte, error) {
	b = appendString(b, 1, r.Exchange)
	b = appendUint(b, 2, r.Corr)
	b = appendString(b, 3, r.Tag)
	b = appendString(b, 4, r.From)
	var err error
	if r.Payload != nil {
		if b, err = r.codec.appendAny(b, 5, r.Payload); err != nil {
			return b, fmt.Errorf("%w: reply payload: %v", errs.ErrInvalid, err)
		}
	}
	if r.Err != nil {
		if b, err = appendMessage(b, 6, r.Err); err != nil {
			return b, err
		}
	}
	if r.DeliverTo != nil {
		b = appendPid(b, 7, *r.DeliverTo)
	}
	if r.HasFree {
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(r.Free)))
	}
	return b, nil
}

// Proto returns r as a *boursepb.Reply.
func (r *OutReply) Proto() (proto.Message, error) {
	w := &boursepb.Reply{Exchange: r.Exchange, CorrelationId: r.Corr, Tag: r.Tag, From: r.From, Error: r.Err}
	if r.DeliverTo != nil {
		w.DeliverTo = &boursepb.Pid{Address: r.DeliverTo.Address, Id: r.DeliverTo.ID}
	}
	if r.HasFree {
		w.Free = proto.Int32(r.Free)
	}
	if r.Payload != nil {
		a, err := marshalAny(r.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: reply payload: %v", errs.ErrInvalid, err)
		}
		w.Payload = a
	}
	return w, nil
}

// OutPublication is a publication for other nodes' subscribers. One value
// goes to every node that has some: its payload is marshalled once, for the
// first (or by Encode, before), and copied for the others.
type OutPublication struct {
	Exchange, Key string
	Payload       proto.Message

	codec *Codec
	url   string
	value []byte
	wire  *boursepb.Publication
}

// Publication returns p, bound to c.
func (c *Codec) Publication(p OutPublication) *OutPublication {
	p.codec = c
	return &p
}

// Encode marshals p's payload, once: an error here is the error every frame
// of p would have.
func (p *OutPublication) Encode() error {
	if p.value != nil {
		return nil
	}
	v, err := proto.Marshal(p.Payload)
	if err != nil {
		return fmt.Errorf("%w: payload: %v", errs.ErrInvalid, err)
	}
	p.url, p.value = p.codec.TypeURL(p.Payload), v
	if p.value == nil {
		p.value = []byte{}
	}
	return nil
}

// AppendTo appends p's frame body to b: a boursepb.Publication.
func (p *OutPublication) AppendTo(b []byte) ([]byte, error) {
	if err := p.Encode(); err != nil {
		return b, err
	}
	b = appendString(b, 1, p.Exchange)
	b = appendString(b, 2, p.Key)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeString(p.url)+1+protowire.SizeBytes(len(p.value))))
	b = appendString(b, 1, p.url)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, p.value), nil
}

// Proto returns p as a *boursepb.Publication, the same value each time.
func (p *OutPublication) Proto() (proto.Message, error) {
	if p.wire == nil {
		if err := p.Encode(); err != nil {
			return nil, err
		}
		p.wire = &boursepb.Publication{Exchange: p.Exchange, Key: p.Key, Payload: &anypb.Any{TypeUrl: p.url, Value: p.value}}
	}
	return p.wire, nil
}

// --- decoding ---

// field is one field of a message being decoded.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64 // varint fields
	b   []byte // length-delimited fields
}

// fields calls fn for each field of the message encoded in b.
func fields(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// pidFields decodes a boursepb.Pid.
func pidFields(b []byte) (addr, id []byte, err error) {
	err = fields(b, func(f field) error {
		if f.typ == protowire.BytesType {
			switch f.num {
			case 1:
				addr = f.b
			case 2:
				id = f.b
			}
		}
		return nil
	})
	return addr, id, err
}

// internPid decodes a boursepb.Pid, interning its strings.
func (c *Codec) internPid(b []byte) (Pid, error) {
	a, id, err := pidFields(b)
	return Pid{Address: c.Intern(a), ID: c.Intern(id)}, err
}

// anyFields decodes a google.protobuf.Any.
func anyFields(b []byte) (url, value []byte, err error) {
	err = fields(b, func(f field) error {
		if f.typ == protowire.BytesType {
			switch f.num {
			case 1:
				url = f.b
			case 2:
				value = f.b
			}
		}
		return nil
	})
	return url, value, err
}

// InRequest is a request from another node, decoded. Its payload is still
// encoded (URL, Value; Codec.Payload decodes it), and HasPayload says
// whether it had one. URL and Value point into the frame. Budget is the
// caller's time left when it sent the request (0: no deadline; a frame of a
// version before budget_nano has none).
type InRequest struct {
	Exchange, Tag, Key, ServiceTag, ConnTag, Handler string
	Corr                                             uint64
	ReplyTo, Target, DeliverTo                       Pid
	URL, Value                                       []byte
	HasPayload                                       bool
	Budget                                           time.Duration
}

// DecodeRequest decodes a request frame's body.
func (c *Codec) DecodeRequest(b []byte) (InRequest, error) {
	var in InRequest
	err := fields(b, func(f field) error {
		var err error
		switch {
		case f.typ == protowire.VarintType && f.num == 2:
			in.Corr = f.v
		case f.typ == protowire.VarintType && f.num == 13:
			in.Budget = budgetOf(f.v)
		case f.typ != protowire.BytesType:
		case f.num == 1:
			in.Exchange = c.Intern(f.b)
		case f.num == 3:
			in.Tag = string(f.b)
		case f.num == 4:
			in.Key = string(f.b)
		case f.num == 5:
			in.ServiceTag = c.Intern(f.b)
		case f.num == 6:
			in.ConnTag = c.Intern(f.b)
		case f.num == 7:
			in.ReplyTo, err = c.internPid(f.b)
		case f.num == 8:
			in.URL, in.Value, err = anyFields(f.b)
			in.HasPayload = true
		case f.num == 10:
			in.Target, err = c.internPid(f.b)
		case f.num == 11:
			var a, id []byte
			a, id, err = pidFields(f.b)
			in.DeliverTo = Pid{Address: string(a), ID: string(id)}
		case f.num == 12:
			in.Handler = c.Intern(f.b)
		}
		return err
	})
	return in, err
}

// RequestFromProto reads a request that came through protoactor remote.
func RequestFromProto(m *boursepb.Request) InRequest {
	in := InRequest{Exchange: m.GetExchange(), Tag: m.GetTag(), Key: m.GetKey(), ServiceTag: m.GetServiceTag(),
		ConnTag: m.GetConnTag(), Handler: m.GetHandler(), Corr: m.GetCorrelationId(),
		ReplyTo: pidOf(m.GetReplyTo()), Target: pidOf(m.GetTarget()), DeliverTo: pidOf(m.GetDeliverTo()),
		Budget: budgetOf(m.GetBudgetNano())}
	if a := m.GetPayload(); a != nil {
		in.URL, in.Value, in.HasPayload = []byte(a.GetTypeUrl()), a.GetValue(), true
	}
	return in
}

// InReply is a reply from another node, decoded; its payload as in
// InRequest.
type InReply struct {
	Exchange, Tag, From string
	Corr                uint64
	URL, Value          []byte
	HasPayload          bool
	Err                 *boursepb.Error
	DeliverTo           Pid
	// Free is the answering handler's free capacity, when HasFree.
	Free    int32
	HasFree bool
}

// DecodeReply decodes a reply frame's body.
func (c *Codec) DecodeReply(b []byte) (InReply, error) {
	var in InReply
	err := fields(b, func(f field) error {
		var err error
		switch {
		case f.typ == protowire.VarintType && f.num == 2:
			in.Corr = f.v
		case f.typ == protowire.VarintType && f.num == 8:
			in.Free, in.HasFree = int32(protowire.DecodeZigZag(f.v)), true
		case f.typ != protowire.BytesType:
		case f.num == 1:
			in.Exchange = c.Intern(f.b)
		case f.num == 3:
			in.Tag = string(f.b)
		case f.num == 4:
			in.From = c.Intern(f.b)
		case f.num == 5:
			in.URL, in.Value, err = anyFields(f.b)
			in.HasPayload = true
		case f.num == 6:
			in.Err = &boursepb.Error{}
			err = proto.Unmarshal(f.b, in.Err)
		case f.num == 7:
			var a, id []byte
			a, id, err = pidFields(f.b)
			in.DeliverTo = Pid{Address: string(a), ID: string(id)}
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return in, err
}

// ReplyFromProto reads a reply that came through protoactor remote.
func ReplyFromProto(m *boursepb.Reply) InReply {
	in := InReply{Exchange: m.GetExchange(), Tag: m.GetTag(), From: m.GetFrom(), Corr: m.GetCorrelationId(),
		Err: m.GetError(), DeliverTo: pidOf(m.GetDeliverTo())}
	if m.Free != nil {
		in.Free, in.HasFree = m.GetFree(), true
	}
	if a := m.GetPayload(); a != nil {
		in.URL, in.Value, in.HasPayload = []byte(a.GetTypeUrl()), a.GetValue(), true
	}
	return in
}

// InPublication is a publication from another node, decoded; its payload
// as in InRequest.
type InPublication struct {
	Exchange, Key string
	URL, Value    []byte
}

// DecodePublication decodes a publication frame's body.
func (c *Codec) DecodePublication(b []byte) (InPublication, error) {
	var in InPublication
	err := fields(b, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		var err error
		switch f.num {
		case 1:
			in.Exchange = c.Intern(f.b)
		case 2:
			in.Key = string(f.b)
		case 3:
			in.URL, in.Value, err = anyFields(f.b)
		}
		return err
	})
	return in, err
}

// PublicationFromProto reads a publication that came through protoactor
// remote.
func PublicationFromProto(m *boursepb.Publication) InPublication {
	in := InPublication{Exchange: m.GetExchange(), Key: m.GetKey()}
	if a := m.GetPayload(); a != nil {
		in.URL, in.Value = []byte(a.GetTypeUrl()), a.GetValue()
	}
	return in
}
