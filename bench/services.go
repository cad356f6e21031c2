package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// serveEcho connects n handlers that answer each request with its payload.
func serveEcho(ctx context.Context, b *actors.Broker, name string, n int) error {
	for range n {
		_, err := b.Serve(ctx, name, actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
			return r.Payload, nil
		}))
		if err != nil {
			return fmt.Errorf("serve %s: %w", name, err)
		}
	}
	return nil
}

// newPayload returns a request payload of size bytes.
func newPayload(size int) *wrapperspb.BytesValue {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'x'
	}
	return wrapperspb.Bytes(b)
}

// Fan-out payloads carry the publication's sequence number and the wall
// clock at publication (one host: the clocks of all processes agree), then
// padding up to -payload bytes.
const stampSize = 16

func stampedPayload(seq int, size int) *wrapperspb.BytesValue {
	b := make([]byte, max(size, stampSize))
	binary.LittleEndian.PutUint64(b, uint64(seq))
	binary.LittleEndian.PutUint64(b[8:], uint64(time.Now().UnixNano()))
	return wrapperspb.Bytes(b)
}

func stampOf(m proto.Message) (seq int, ok bool) {
	v, isBytes := m.(*wrapperspb.BytesValue)
	if !isBytes || len(v.GetValue()) < stampSize {
		return 0, false
	}
	return int(binary.LittleEndian.Uint64(v.GetValue())), true
}

// tracker counts one node's deliveries per publication and reports, once per
// publication, when the last of the node's subscribers has it.
type tracker struct {
	local  int64
	counts []atomic.Int64 // by sequence number
	onDone func(seq int, ts int64)
}

func newTracker(local, capacity int, onDone func(seq int, ts int64)) *tracker {
	return &tracker{local: int64(local), counts: make([]atomic.Int64, capacity), onDone: onDone}
}

func (t *tracker) deliver(seq int) {
	if seq < 0 || seq >= len(t.counts) {
		return
	}
	if t.counts[seq].Add(1) == t.local {
		t.onDone(seq, time.Now().UnixNano())
	}
}

// subscribeMany spawns count subscriber actors on the broker's dispatcher and
// subscribes each to name under pattern. Subscriptions go out from a few
// goroutines at once: each is a round trip to the node's proxy.
func subscribeMany(ctx context.Context, b *actors.Broker, name, pattern string, count int, t *tracker) error {
	props := actor.PropsFromFunc(func(c actor.Context) {
		if p, ok := c.Message().(*actors.Publication); ok {
			if seq, ok := stampOf(p.Payload); ok {
				t.deliver(seq)
			}
		}
	}, actor.WithDispatcher(b.Dispatcher()))
	const workers = 8
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(next.Add(1)) <= count {
				pid := b.System().Root.Spawn(props)
				if _, err := b.Subscribe(ctx, name, pattern, pid); err != nil {
					errs <- fmt.Errorf("subscribe to %s: %w", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}
