package exchange

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// The data link's codec. Its frames are the protobuf encodings of
// boursepb.Request, Reply and Publication, byte for byte (a test checks both
// ways), but written and read by hand: the generic path costs, per request,
// a boursepb.Request, three Pids and an Any to allocate and then to decode
// again, and an Any's payload marshalled twice. Here the payload is
// marshalled once, straight into the link's buffer, and decoding goes from
// the frame to the exchange's own Request or Reply, with the strings that
// repeat (exchange names, addresses, ids, type URLs) interned.

// errMalformed is wrapped by the decoders' errors.
var errMalformed = fmt.Errorf("%w: malformed frame", ErrInvalid)

const typeURLPrefix = "type.googleapis.com/"

// cowMap is a map read without a lock and copied on write: for small sets of
// keys that are read on every message and written rarely.
type cowMap[V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]V]
}

// cowLimit bounds a cowMap: when full, it starts again empty, so that keys
// that come and go (handler ids) cannot grow it without end.
const cowLimit = 4096

func (c *cowMap[V]) load() map[string]V {
	if p := c.m.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *cowMap[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.load()
	var next map[string]V
	if len(old) >= cowLimit {
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

// stringTable interns strings: key and value are the same string.
type stringTable struct{ cowMap[string] }

func (t *stringTable) intern(b []byte) string {
	if s, ok := t.load()[string(b)]; ok {
		return s
	}
	s := string(b)
	t.put(s, s)
	return s
}

// typeURLs maps message names to their type URLs, msgTypes type URLs to
// message types: both for every hub of the process, as the registry is.
var (
	typeURLs cowMap[string]
	msgTypes cowMap[protoreflect.MessageType]
)

func typeURLOf(m proto.Message) string {
	name := m.ProtoReflect().Descriptor().FullName()
	if u, ok := typeURLs.load()[string(name)]; ok {
		return u
	}
	u := typeURLPrefix + string(name)
	typeURLs.put(string(name), u)
	return u
}

// newPayload decodes an Any's value of type url.
func newPayload(url, value []byte) (proto.Message, error) {
	mt, ok := msgTypes.load()[string(url)]
	if !ok {
		var err error
		if mt, err = protoregistry.GlobalTypes.FindMessageByURL(string(url)); err != nil {
			return nil, err
		}
		msgTypes.put(string(url), mt)
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(value, m); err != nil {
		return nil, err
	}
	return m, nil
}

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
func appendPid(b []byte, num protowire.Number, addr, id string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeString(addr)+sizeString(id)))
	b = appendString(b, 1, addr)
	return appendString(b, 2, id)
}

// appendAny appends m as a google.protobuf.Any field, marshalling m once,
// in place.
func appendAny(b []byte, num protowire.Number, m proto.Message) ([]byte, error) {
	url := typeURLOf(m)
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

// outbound is a data-plane message on its way to another node: its link
// frame, or the same message for protoactor remote.
type outbound interface {
	AppendTo(b []byte) ([]byte, error)
	message() (proto.Message, error)
}

// outRequest is a request for handler target on another node; the reply goes
// to the ingress at replyTo, or on to deliverTo (an asynchronous caller).
type outRequest struct {
	r         *Request
	target    *actor.PID
	replyTo   *boursepb.Pid
	deliverTo *actor.PID
}

func (o *outRequest) AppendTo(b []byte) ([]byte, error) {
	r := o.r
	if r.Payload == nil {
		return b, fmt.Errorf("%w: nil payload", ErrInvalid)
	}
	b = appendString(b, 1, r.Exchange)
	b = appendUint(b, 2, r.corr)
	b = appendString(b, 3, r.Tag)
	b = appendString(b, 4, r.Key)
	b = appendString(b, 5, r.ServiceTag)
	b = appendString(b, 6, r.ConnTag)
	b = appendPid(b, 7, o.replyTo.GetAddress(), o.replyTo.GetId())
	b, err := appendAny(b, 8, r.Payload)
	if err != nil {
		return b, fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	b = appendPid(b, 10, o.target.Address, o.target.Id)
	if o.deliverTo != nil {
		b = appendPid(b, 11, o.deliverTo.Address, o.deliverTo.Id)
	}
	return appendString(b, 12, r.from), nil
}

func (o *outRequest) message() (proto.Message, error) {
	return wireRequest(o.r, o.target, o.replyTo, o.deliverTo)
}

// outReply is a handler's answer to a caller on another node.
type outReply struct {
	exchange, tag, from string
	corr                uint64
	payload             proto.Message
	err                 *boursepb.Error
	deliverTo           *boursepb.Pid
}

func (o *outReply) AppendTo(b []byte) ([]byte, error) {
	b = appendString(b, 1, o.exchange)
	b = appendUint(b, 2, o.corr)
	b = appendString(b, 3, o.tag)
	b = appendString(b, 4, o.from)
	var err error
	if o.payload != nil {
		if b, err = appendAny(b, 5, o.payload); err != nil {
			return b, fmt.Errorf("%w: reply payload: %v", ErrInvalid, err)
		}
	}
	if o.err != nil {
		if b, err = appendMessage(b, 6, o.err); err != nil {
			return b, err
		}
	}
	if o.deliverTo != nil {
		b = appendPid(b, 7, o.deliverTo.GetAddress(), o.deliverTo.GetId())
	}
	return b, nil
}

func (o *outReply) message() (proto.Message, error) {
	w := &boursepb.Reply{Exchange: o.exchange, CorrelationId: o.corr, Tag: o.tag, From: o.from, Error: o.err, DeliverTo: o.deliverTo}
	if o.payload != nil {
		a, err := marshalAny(o.payload)
		if err != nil {
			return nil, fmt.Errorf("%w: reply payload: %v", ErrInvalid, err)
		}
		w.Payload = a
	}
	return w, nil
}

// outPublication is a publication for another node's subscribers. One value
// goes to every node that has some: its payload is marshalled once, for the
// first, and copied for the others.
type outPublication struct {
	exchange, key string
	payload       proto.Message
	url           string
	value         []byte
	wire          *boursepb.Publication
}

func (o *outPublication) encodePayload() error {
	if o.value != nil {
		return nil
	}
	v, err := proto.Marshal(o.payload)
	if err != nil {
		return fmt.Errorf("%w: payload: %v", ErrInvalid, err)
	}
	o.url, o.value = typeURLOf(o.payload), v
	if o.value == nil {
		o.value = []byte{}
	}
	return nil
}

func (o *outPublication) AppendTo(b []byte) ([]byte, error) {
	if err := o.encodePayload(); err != nil {
		return b, err
	}
	b = appendString(b, 1, o.exchange)
	b = appendString(b, 2, o.key)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(sizeString(o.url)+1+protowire.SizeBytes(len(o.value))))
	b = appendString(b, 1, o.url)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, o.value), nil
}

func (o *outPublication) message() (proto.Message, error) {
	if o.wire == nil {
		if err := o.encodePayload(); err != nil {
			return nil, err
		}
		o.wire = &boursepb.Publication{Exchange: o.exchange, Key: o.key, Payload: &anypb.Any{TypeUrl: o.url, Value: o.value}}
	}
	return o.wire, nil
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
			return fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
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
			return fmt.Errorf("%w: field %d: %v", errMalformed, num, protowire.ParseError(n))
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

// inRequest is a request from another node, decoded.
type inRequest struct {
	exchange, tag, key, serviceTag, connTag string
	corr                                    uint64
	replyAddr, replyID                      string
	targetAddr, targetID                    string
	handler                                 string
	url, value                              []byte
	hasPayload                              bool
	deliverTo                               *boursepb.Pid
}

func (h *Hub) decodeRequest(b []byte) (inRequest, error) {
	var in inRequest
	s := &h.strs
	err := fields(b, func(f field) error {
		var err error
		switch {
		case f.typ == protowire.VarintType && f.num == 2:
			in.corr = f.v
		case f.typ != protowire.BytesType:
		case f.num == 1:
			in.exchange = s.intern(f.b)
		case f.num == 3:
			in.tag = string(f.b)
		case f.num == 4:
			in.key = string(f.b)
		case f.num == 5:
			in.serviceTag = s.intern(f.b)
		case f.num == 6:
			in.connTag = s.intern(f.b)
		case f.num == 7:
			var a, id []byte
			a, id, err = pidFields(f.b)
			in.replyAddr, in.replyID = s.intern(a), s.intern(id)
		case f.num == 8:
			in.url, in.value, err = anyFields(f.b)
			in.hasPayload = true
		case f.num == 10:
			var a, id []byte
			a, id, err = pidFields(f.b)
			in.targetAddr, in.targetID = s.intern(a), s.intern(id)
		case f.num == 11:
			var a, id []byte
			a, id, err = pidFields(f.b)
			in.deliverTo = &boursepb.Pid{Address: string(a), Id: string(id)}
		case f.num == 12:
			in.handler = s.intern(f.b)
		}
		return err
	})
	return in, err
}

// inReply is a reply from another node, decoded.
type inReply struct {
	exchange, tag, from string
	corr                uint64
	url, value          []byte
	hasPayload          bool
	err                 *boursepb.Error
	deliverTo           *actor.PID
}

func (h *Hub) decodeReply(b []byte) (inReply, error) {
	var in inReply
	s := &h.strs
	err := fields(b, func(f field) error {
		var err error
		switch {
		case f.typ == protowire.VarintType && f.num == 2:
			in.corr = f.v
		case f.typ != protowire.BytesType:
		case f.num == 1:
			in.exchange = s.intern(f.b)
		case f.num == 3:
			in.tag = string(f.b)
		case f.num == 4:
			in.from = s.intern(f.b)
		case f.num == 5:
			in.url, in.value, err = anyFields(f.b)
			in.hasPayload = true
		case f.num == 6:
			in.err = &boursepb.Error{}
			err = proto.Unmarshal(f.b, in.err)
		case f.num == 7:
			var a, id []byte
			a, id, err = pidFields(f.b)
			in.deliverTo = actor.NewPID(string(a), string(id))
		}
		return err
	})
	if err != nil && !errors.Is(err, errMalformed) {
		err = fmt.Errorf("%w: %v", errMalformed, err)
	}
	return in, err
}

// inPublication is a publication from another node, decoded.
type inPublication struct {
	exchange, key string
	url, value    []byte
}

func (h *Hub) decodePublication(b []byte) (inPublication, error) {
	var in inPublication
	err := fields(b, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		var err error
		switch f.num {
		case 1:
			in.exchange = h.strs.intern(f.b)
		case 2:
			in.key = string(f.b)
		case 3:
			in.url, in.value, err = anyFields(f.b)
		}
		return err
	})
	return in, err
}
