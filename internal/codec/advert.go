package codec

import (
	"errors"
	"fmt"

	boursepb "github.com/bourse-go/bourse/proto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// HandlerFree is one handler's free capacity in an advert.
type HandlerFree struct {
	ID   string
	Free int32
}

// OutAdvert is a node's advert of the free capacity of its handlers of one
// exchange (boursepb.CapacityAdvert).
type OutAdvert struct {
	Exchange string
	Handlers []HandlerFree
}

// AppendTo appends a's frame body to b: a boursepb.CapacityAdvert.
func (a *OutAdvert) AppendTo(b []byte) ([]byte, error) {
	b = appendString(b, 1, a.Exchange)
	for _, h := range a.Handlers {
		free := protowire.EncodeZigZag(int64(h.Free))
		size := sizeString(h.ID)
		if free != 0 {
			size += 1 + protowire.SizeVarint(free)
		}
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = appendString(b, 1, h.ID)
		b = appendUint(b, 2, free)
	}
	return b, nil
}

// Proto returns a as a *boursepb.CapacityAdvert, for protoactor remote.
func (a *OutAdvert) Proto() (proto.Message, error) {
	m := &boursepb.CapacityAdvert{Exchange: a.Exchange, Handlers: make([]*boursepb.HandlerCapacity, len(a.Handlers))}
	for i, h := range a.Handlers {
		m.Handlers[i] = &boursepb.HandlerCapacity{Id: h.ID, Free: h.Free}
	}
	return m, nil
}

// InAdvert is a capacity advert from another node, decoded.
type InAdvert struct {
	Exchange string
	Handlers []HandlerFree
}

// DecodeAdvert decodes an advert frame's body. Handler ids are interned:
// the same few repeat in every advert of a node.
func (c *Codec) DecodeAdvert(b []byte) (InAdvert, error) {
	var in InAdvert
	err := fields(b, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case 1:
			in.Exchange = c.Intern(f.b)
		case 2:
			var h HandlerFree
			err := fields(f.b, func(g field) error {
				switch {
				case g.num == 1 && g.typ == protowire.BytesType:
					h.ID = c.Intern(g.b)
				case g.num == 2 && g.typ == protowire.VarintType:
					h.Free = int32(protowire.DecodeZigZag(g.v))
				}
				return nil
			})
			if err != nil {
				return err
			}
			in.Handlers = append(in.Handlers, h)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return in, err
}

// AdvertFromProto reads an advert that came through protoactor remote.
func AdvertFromProto(m *boursepb.CapacityAdvert) InAdvert {
	in := InAdvert{Exchange: m.GetExchange(), Handlers: make([]HandlerFree, len(m.GetHandlers()))}
	for i, h := range m.GetHandlers() {
		in.Handlers[i] = HandlerFree{ID: h.GetId(), Free: h.GetFree()}
	}
	return in
}
