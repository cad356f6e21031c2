package watermill

import (
	"context"
	"maps"
	"reflect"
	"sync"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// item is a received message, kept as data: each delivery makes a new
// message.Message, whose Ack and Nack work once.
type item struct {
	uuid     string
	metadata map[string]string
	payload  []byte
}

// message makes the message.Message of one delivery, with a context that
// derives from ctx and ends with the returned function.
func (it *item) message(ctx context.Context) (*message.Message, context.CancelFunc) {
	msg := message.NewMessage(it.uuid, it.payload)
	if len(it.metadata) > 0 {
		msg.Metadata = maps.Clone(it.metadata)
	}
	mctx, cancel := context.WithCancel(ctx)
	msg.SetContext(mctx)
	return msg, cancel
}

// consumer is one Subscribe call. Its fields past out belong to the
// queue's dispatcher goroutine.
type consumer struct {
	ctx context.Context
	out chan *message.Message

	offer       *message.Message // of offerItem, made for this consumer
	offerItem   *item
	offerCancel context.CancelFunc
	held        *item // out and awaiting its Ack or Nack
	heldMsg     *message.Message
	heldCancel  context.CancelFunc
	ending      bool // ctx ended while a message was out
}

func (c *consumer) dropOffer() {
	if c.offerCancel != nil {
		c.offerCancel()
	}
	c.offer, c.offerItem, c.offerCancel = nil, nil, nil
}

// queue holds one topic's messages for a Subscriber's consumers. The
// Subscriber's actor pushes; one dispatcher goroutine (run) offers the head
// to every consumer that has no message out, all at once, so that the first
// one ready takes it (a consumer whose reader went away never holds a
// message back from the others), and waits for that message's Ack or Nack.
type queue struct {
	topic string
	limit int
	log   wm.LoggerAdapter
	life  context.Context // ends with the Subscriber, or stop
	stop  context.CancelFunc
	add   chan *consumer
	wake  chan struct{} // a message was pushed

	mu    sync.Mutex
	items []*item // items[head:] are queued, oldest first
	head  int
}

func newQueue(parent context.Context, topic string, limit int, log wm.LoggerAdapter) *queue {
	life, stop := context.WithCancel(parent)
	return &queue{topic: topic, limit: limit, log: log, life: life, stop: stop,
		add: make(chan *consumer), wake: make(chan struct{}, 1)}
}

// push queues it at the tail, or drops it when the queue is full. It never
// blocks.
func (q *queue) push(it *item) {
	q.mu.Lock()
	full := len(q.items)-q.head >= q.limit
	if !full {
		q.items = append(q.items, it)
	}
	q.mu.Unlock()
	if full {
		q.log.Error("dropped a message: the topic's buffer is full", nil,
			wm.LogFields{"topic": q.topic, "uuid": it.uuid, "buffer": q.limit})
		return
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pushFront queues it at the head (a Nack). It ignores the limit: a
// message taken once is never dropped for one that came later.
func (q *queue) pushFront(it *item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head > 0 {
		q.head--
		q.items[q.head] = it
		return
	}
	q.items = append([]*item{it}, q.items...)
}

func (q *queue) peek() *item {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil
	}
	return q.items[q.head]
}

func (q *queue) pop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items[q.head] = nil
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head > 1024 && q.head > len(q.items)/2:
		q.items, q.head = append(q.items[:0], q.items[q.head:]...), 0
	}
}

// What a select case of run is for.
const (
	caseLife = iota
	caseWake
	caseAdd
	caseEnd  // a consumer's ctx ended
	caseSent // a consumer took its offer
	caseAck
	caseNack
)

// run is the queue's dispatcher: it ends when life does, closing every
// consumer's channel.
func (q *queue) run() {
	var cs []*consumer
	defer func() {
		for _, c := range cs {
			c.dropOffer()
			if c.heldCancel != nil {
				c.heldCancel()
			}
			close(c.out)
		}
	}()
	remove := func(c *consumer) {
		c.dropOffer()
		close(c.out)
		for i, o := range cs {
			if o == c {
				cs = append(cs[:i], cs[i+1:]...)
				break
			}
		}
	}
	type ref struct {
		c    *consumer
		kind int
	}
	var cases []reflect.SelectCase
	var refs []ref
	recv := func(ch any, c *consumer, kind int) {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		refs = append(refs, ref{c, kind})
	}
	for {
		head := q.peek()
		cases, refs = cases[:0], refs[:0]
		recv(q.life.Done(), nil, caseLife)
		recv(q.wake, nil, caseWake)
		recv(q.add, nil, caseAdd)
		for _, c := range cs {
			if c.held != nil {
				recv(c.heldMsg.Acked(), c, caseAck)
				recv(c.heldMsg.Nacked(), c, caseNack)
				if !c.ending {
					recv(c.ctx.Done(), c, caseEnd)
				}
				continue
			}
			recv(c.ctx.Done(), c, caseEnd)
			if head == nil {
				continue
			}
			if c.offerItem != head {
				c.dropOffer()
				c.offer, c.offerCancel = head.message(c.ctx)
				c.offerItem = head
			}
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectSend, Chan: reflect.ValueOf(c.out), Send: reflect.ValueOf(c.offer)})
			refs = append(refs, ref{c, caseSent})
		}
		chosen, v, _ := reflect.Select(cases)
		r := refs[chosen]
		c := r.c
		switch r.kind {
		case caseLife:
			return
		case caseWake:
		case caseAdd:
			cs = append(cs, v.Interface().(*consumer))
		case caseEnd:
			if c.held != nil {
				c.ending = true // closes after the Ack or Nack
				continue
			}
			remove(c)
		case caseSent:
			q.pop()
			c.held, c.heldMsg, c.heldCancel = head, c.offer, c.offerCancel
			c.offer, c.offerItem, c.offerCancel = nil, nil, nil
		case caseAck, caseNack:
			c.heldCancel()
			if r.kind == caseNack {
				q.pushFront(c.held)
			}
			c.held, c.heldMsg, c.heldCancel = nil, nil, nil
			if c.ending {
				remove(c)
			}
		}
	}
}
