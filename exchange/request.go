package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/strategies"
	"google.golang.org/protobuf/proto"
)

// CallOption sets an option of one request: WithKey, WithServiceTag,
// WithTag or WithTimeout. It is a value, not a function, so that applying
// a call's options costs it nothing on the heap (a function's *callOptions
// argument escapes: an allocation on every call).
type CallOption struct {
	kind callOptionKind
	s    string
	d    time.Duration
}

type callOptionKind uint8

const (
	optNone callOptionKind = iota // the zero CallOption: does nothing
	optKey
	optServiceTag
	optTag
	optTimeout
)

type callOptions struct {
	key        string
	serviceTag string
	tag        string
	timeout    time.Duration
}

// apply sets opts, in order (a later one of a kind wins).
func (o *callOptions) apply(opts []CallOption) {
	for _, opt := range opts {
		switch opt.kind {
		case optKey:
			o.key = opt.s
		case optServiceTag:
			o.serviceTag = opt.s
		case optTag:
			o.tag = opt.s
		case optTimeout:
			o.timeout = opt.d
		}
	}
}

// bounds are the ends of a blocking call, with its start.
type bounds struct {
	start     mono          // when the call started, when it was read (a timeout, or a Recorder); 0 otherwise
	timeoutAt mono          // when WithTimeout ends the call; 0 without
	deadline  mono          // what the request carries (Request.Deadline); 0 for none
	armFor    time.Duration // what the attempt's timer waits: WithTimeout's d, then what is left of it
}

// boundsOf returns the bounds of a blocking call with ctx and WithTimeout
// timeout: the call ends at timeoutAt or when ctx does, and the request
// carries the earlier of the two. Without either it carries none, and
// costs no clock reading.
func boundsOf(ctx context.Context, timeout time.Duration, clock bool) bounds {
	var b bounds
	if d, ok := ctx.Deadline(); ok {
		b.deadline = monoOf(d)
	}
	if timeout > 0 || clock {
		b.start = monoNow() // one reading for the timeout and the Recorder
	}
	if timeout > 0 {
		b.timeoutAt, b.armFor = b.start+mono(timeout), timeout
		if b.deadline == 0 || b.timeoutAt < b.deadline {
			b.deadline = b.timeoutAt
		}
	}
	return b
}

// WithKey sets the request's routing key, which sticky strategies hash.
func WithKey(key string) CallOption { return CallOption{kind: optKey, s: key} }

// WithServiceTag routes the request only among handlers connected with tag.
func WithServiceTag(tag string) CallOption { return CallOption{kind: optServiceTag, s: tag} }

// WithTimeout bounds a blocking call (Request, RequestAll) by d, on top of
// its context; when d passes first, the call fails with ErrTimeout (which
// also matches context.DeadlineExceeded). It costs less than a
// context.WithTimeout per call: the timer lives with the pooled call and is
// reset, not allocated, and nothing registers with a parent context.
//
// The request carries the call's deadline to its handler (the earlier of
// the context's and d's; Request.Deadline), which drops it unprocessed when
// it reaches it too late (Request.DropExpired). An asynchronous request
// (RequestAsync) is given a deadline d from now this way, which nothing
// tracks on the caller's side: a dropped request gets no reply.
func WithTimeout(d time.Duration) CallOption { return CallOption{kind: optTimeout, d: d} }

// WithTag sets the request tag that comes back with the reply (Reply.Tag).
func WithTag(tag string) CallOption { return CallOption{kind: optTag, s: tag} }

// Request sends payload to the req-resp exchange name and waits for the reply,
// or for ctx. The exchange's strategy picks the handler; the request goes
// straight to it and the reply straight back. When the strategy broadcasts
// (default), Request returns the first successful reply, or the first error
// when every handler fails (RequestAll returns them all).
//
// The handler sees the call's deadline, ctx's or WithTimeout's, whichever
// comes first (Request.Deadline), and one that reaches the request after it
// drops it unprocessed.
//
// Errors wrap ErrNoHandlers (at once, when nobody is connected),
// ErrOverloaded (at once, when the handler's queue is full), ErrTimeout
// (ctx ended; also context.DeadlineExceeded or context.Canceled), ErrHandler
// (*HandlerError), ErrRejected, ErrUnknownExchange, ErrWrongKind or ErrStopped.
func (h *Hub) Request(ctx context.Context, name string, payload proto.Message, opts ...CallOption) (reply proto.Message, err error) {
	var o callOptions
	o.apply(opts)
	b := boundsOf(ctx, o.timeout, h.rec != nil) // WithTimeout bounds the call, not each attempt
	var p *point                                // the exchange's, once routed: for the Recorder
	if h.rec != nil {
		defer func() { h.recordSent(p, name, OpRequest, b.start, err) }()
	}
	for resends := 0; ; resends++ {
		if resends > 0 && b.timeoutAt != 0 {
			if b.armFor = time.Duration(b.timeoutAt - monoNow()); b.armFor <= 0 {
				return nil, &TimeoutError{Exchange: name, Cause: context.DeadlineExceeded}
			}
		}
		reply, err := h.request(ctx, name, payload, &o, b, &p)
		// A request no handler saw goes to the handler the strategy picks
		// now: the caller's table lagged behind a handler that stopped (it
		// handed over, or its service stopped), and the next pick is most
		// likely live. Bounded, so that a table that keeps naming a stopped
		// handler ends in an error, not a loop.
		if err == nil || !errors.Is(err, errUndelivered) || resends == maxResends || ctx.Err() != nil {
			return reply, err
		}
	}
}

// maxResends bounds how many times Request sends again a request that no
// handler saw (errUndelivered).
const maxResends = 3

// request is one attempt of Request; it sets *p to the exchange's point
// once it is routed.
func (h *Hub) request(ctx context.Context, name string, payload proto.Message, o *callOptions, b bounds, p **point) (proto.Message, error) {
	rt, err := h.route(name, o, payload)
	if err != nil {
		return nil, err
	}
	*p = rt.p
	rt.deadline = b.deadline
	reply, err := h.await(ctx, name, &rt, o, b)
	if !rt.broadcast {
		rt.p.prob.observe(rt.g, rt.target, err) // probation.go
	}
	return reply, err
}

// await sends a routed request and waits for its reply.
func (h *Hub) await(ctx context.Context, name string, rt *routed, o *callOptions, b bounds) (proto.Message, error) {
	n := rt.count()
	c := h.inbox.open(n, rt.p.spec.Name)
	if err := h.send(rt, o, h.inboxPID, c); err != nil {
		h.inbox.close(c, 0)
		return nil, err
	}
	expired := c.arm(b.armFor)
	var first error
	for got := 0; got < n; {
		select {
		case <-expired:
			h.inbox.close(c, got)
			return nil, &TimeoutError{Exchange: name, Cause: context.DeadlineExceeded}
		case r := <-c.ch:
			got++
			if r.Err == nil {
				payload := r.Payload // r may be the call's own, reused once closed
				h.inbox.close(c, got)
				return payload, nil
			}
			if first == nil {
				first = r.Err
			}
		case <-ctx.Done():
			h.inbox.close(c, got)
			return nil, timeoutError(name, ctx)
		case <-h.done:
			return nil, reqErr(name, ErrStopped)
		}
	}
	h.inbox.close(c, n)
	return nil, reqErr(name, first)
}

// RequestAll sends payload like Request and returns one Reply per handler it
// went to (every handler of the group under a broadcasting strategy, one
// otherwise), in the order they came. When ctx ends first, it returns the
// replies so far and a *TimeoutError. A handler's own failure is in its
// Reply's Err, not in the returned error.
func (h *Hub) RequestAll(ctx context.Context, name string, payload proto.Message, opts ...CallOption) (replies []*Reply, err error) {
	var o callOptions
	o.apply(opts)
	b := boundsOf(ctx, o.timeout, h.rec != nil)
	var p *point
	if h.rec != nil {
		defer func() { h.recordSent(p, name, OpRequestAll, b.start, err) }()
	}
	rt, err := h.route(name, &o, payload)
	if err != nil {
		return nil, err
	}
	p = rt.p
	rt.deadline = b.deadline
	n := rt.count()
	c := h.inbox.openKept(n, rt.p.spec.Name) // its replies are returned
	if err := h.send(&rt, &o, h.inboxPID, c); err != nil {
		h.inbox.close(c, 0)
		return nil, err
	}
	out := make([]*Reply, 0, n)
	expired := c.arm(b.armFor)
	for len(out) < n {
		select {
		case <-expired:
			h.inbox.close(c, len(out))
			return out, &TimeoutError{Exchange: name, Cause: context.DeadlineExceeded}
		case r := <-c.ch:
			out = append(out, r)
		case <-ctx.Done():
			h.inbox.close(c, len(out))
			return out, timeoutError(name, ctx)
		case <-h.done:
			return out, reqErr(name, ErrStopped)
		}
	}
	h.inbox.close(c, n)
	return out, nil
}

// RequestAsync sends payload to the exchange and returns without waiting: the
// handler's answer arrives at replyTo as a *Reply carrying the tag given with
// WithTag (one Reply per handler under a broadcasting strategy). Errors the
// exchange knows at once (ErrNoHandlers, ErrRejected, ErrUnknownExchange, ...)
// are returned, not sent. No deadline is tracked: a caller that needs one uses
// its actor's ReceiveTimeout. The request has no deadline unless WithTimeout
// gives it one, which its handler sees (Request.Deadline) and past which it
// drops the request without a reply.
func (h *Hub) RequestAsync(replyTo *actor.PID, name string, payload proto.Message, opts ...CallOption) (err error) {
	var p *point
	if h.rec != nil {
		start := monoNow()
		defer func() { h.recordSent(p, name, OpRequestAsync, start, err) }()
	}
	if replyTo == nil {
		return &RequestError{Exchange: name, Err: fmt.Errorf("%w: nil reply-to PID", ErrInvalid)}
	}
	var o callOptions
	o.apply(opts)
	rt, err := h.route(name, &o, payload)
	if err != nil {
		return err
	}
	p = rt.p
	if o.timeout > 0 {
		rt.deadline = monoNow() + mono(o.timeout)
	}
	return h.send(&rt, &o, replyTo, nil)
}

// routed is a routing decision: the group of point p and which of its handlers
// (target, or all when broadcast) get payload, with the caller's deadline
// (zero for none), which the request carries.
type routed struct {
	p         *point
	g         *group
	target    int
	broadcast bool
	payload   proto.Message
	deadline  mono
}

func (r *routed) count() int {
	if r.broadcast {
		return len(r.g.pids)
	}
	return 1
}

// route applies the exchange's table and strategy to one request, following
// redirects.
func (h *Hub) route(name string, o *callOptions, payload proto.Message) (routed, error) {
	for depth := 0; ; depth++ {
		p, err := h.lookup(name, ReqResp)
		if err != nil {
			return routed{}, err
		}
		t := p.table.Load()
		g := t.all
		if o.serviceTag != "" {
			g = t.byTag[o.serviceTag]
			if g == nil {
				return routed{}, &RequestError{Exchange: name, Err: fmt.Errorf("%w for service tag %q", ErrNoHandlers, o.serviceTag)}
			}
		}
		if len(g.pids) == 0 {
			return routed{}, &RequestError{Exchange: name, Err: ErrNoHandlers}
		}
		if p.leaderOnly && g == t.all && t.leader == "" {
			return routed{}, &RequestError{Exchange: name, Err: ErrNoLeader}
		}
		req := strategies.Request{Exchange: name, Key: o.key, ServiceTag: o.serviceTag, Tag: o.tag, Payload: payload}
		var d strategies.Decision
		if p.prob.avoiding() {
			d, err = p.prob.pick(h, p, g, req)
		} else {
			d, err = g.picker.Pick(req)
		}
		if err != nil {
			return routed{}, &RequestError{Exchange: name, Err: err}
		}
		if d.Payload != nil {
			payload = d.Payload
		}
		if d.Redirect != "" {
			if depth >= h.cfg.MaxRedirects {
				return routed{}, &RequestError{Exchange: name, Err: fmt.Errorf("%w: %d redirects, last to %q", ErrRedirectLoop, depth+1, d.Redirect)}
			}
			name = d.Redirect
			continue
		}
		if d.Broadcast {
			return routed{p: p, g: g, broadcast: true, payload: payload}, nil
		}
		if d.Target < 0 || d.Target >= len(g.pids) {
			return routed{}, &RequestError{Exchange: name, Err: fmt.Errorf("%w: strategy picked handler %d of %d", ErrInvalid, d.Target, len(g.pids))}
		}
		return routed{p: p, g: g, target: d.Target, payload: payload}, nil
	}
}

// send delivers a routed request straight to its handler(s): a local handler
// gets the *Request in its mailbox; a handler on another node gets it through
// that node's ingress, one network message, and answers straight back to this
// node's ingress.
func (h *Hub) send(r *routed, o *callOptions, replyTo *actor.PID, c *call) error {
	if r.broadcast {
		for i, pid := range r.g.pids {
			if err := h.sendOne(r, i, pid, o, replyTo, c); err != nil {
				return err
			}
		}
		return nil
	}
	return h.sendOne(r, r.target, r.g.pids[r.target], o, replyTo, c)
}

func (h *Hub) sendOne(r *routed, i int, pid *actor.PID, o *callOptions, replyTo *actor.PID, c *call) error {
	if h.isLocal(pid) {
		var l *load
		if i < len(r.g.loads) {
			if l = r.g.loads[i]; l != nil && !l.acquire() {
				return h.overloaded(r, i, o, replyTo, c, ErrOverloaded)
			}
			if l != nil && l.closed.Load() {
				// Its disconnection began since the table was built: not
				// into a mailbox that may stop with it queued (carriage.go:
				// deliverRequest); its caller sends it again.
				l.release()
				return h.overloaded(r, i, o, replyTo, c, errUndelivered)
			}
		}
		req := h.newRequest(r, i, o, replyTo, c)
		req.load = l
		h.root.Send(pid, req)
		return nil
	}
	if r.g.view != nil {
		if a := r.g.view.remote[i]; a != nil {
			a.sent.Add(1) // subtracted from its advert until the next one (capacity.go)
		}
	}
	return h.sendRemote(r, i, pid, o, replyTo, c)
}

// overloaded fails a request to the i-th handler of r, on this node, whose
// limit and queue are full (why: ErrOverloaded), or whose connection
// closed (errUndelivered): at once, the handler never sees it. A
// broadcast's other handlers still get theirs, so its caller gets the
// failure as that handler's reply.
func (h *Hub) overloaded(r *routed, i int, o *callOptions, replyTo *actor.PID, c *call, why error) error {
	err := &RequestError{Exchange: r.p.spec.Name, Err: why}
	if !r.broadcast {
		return err
	}
	var corr uint64
	if c != nil {
		corr = c.corr
	}
	h.root.Send(replyTo, &Reply{Exchange: r.p.spec.Name, Tag: o.tag, From: r.g.members[i].ID, Err: err, corr: corr, call: c})
	return nil
}

// isLocal reports whether pid is on this node: a request to it goes into
// its mailbox, one to any other crosses nodes (carriage.go: sendRemote).
func (h *Hub) isLocal(pid *actor.PID) bool {
	return pid.Address == h.system.Address() || pid.Address == "nonhost"
}

// newRequest returns the Request for the i-th handler of a routed request
// whose caller is on this node.
func (h *Hub) newRequest(r *routed, i int, o *callOptions, replyTo *actor.PID, c *call) *Request {
	m := &r.g.members[i]
	var corr uint64
	if c != nil {
		corr = c.corr
	}
	return newLocalRequest(&localRequest{
		Request: Request{
			Exchange:   r.p.spec.Name,
			ConnTag:    m.ConnTag,
			ServiceTag: o.serviceTag,
			Tag:        o.tag,
			Key:        o.key,
			Payload:    r.payload,
			from:       m.ID,
			corr:       corr,
			deadline:   r.deadline,
			expired:    &r.p.expired,
		},
		via: localReply{root: h.root, replyTo: replyTo, call: c},
	})
}

// IsTimeout reports whether err is a request timeout.
func IsTimeout(err error) bool { return errors.Is(err, ErrTimeout) }
