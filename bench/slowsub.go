package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
)

// The slow-subscriber scenario (issue 14, item 4): a publisher on node 1
// publishes 10 times faster than its one subscriber, on node 2, takes
// them, for -slow-duration; node 3 is a member that does nothing but may
// host the exchange's authority. Every second it samples the RSS of node
// 2's process (/proc/PID/status VmRSS) and node 2's counters. One run per
// policy of -slow-policies, each on a cluster of its own, so that one's
// memory does not carry into the next. "unbounded" is a control: a bound no
// run reaches (the behaviour before subscribers were bounded).

const (
	slowExchange = "bench-slow"
	slowKey      = "prices.nyse.AAPL"
	// slowSpeedup is how much faster the publisher goes than the
	// subscriber (the figure).
	slowSpeedup = 10
	// policyUnbounded is -slow-policies' control.
	policyUnbounded = "unbounded"
)

// SlowSample is one sample of a slow-subscriber run.
type SlowSample struct {
	Seconds   float64 `json:"seconds"`
	RSSBytes  int64   `json:"rss_bytes"` // node 2's process
	Published uint64  `json:"published"`
	Taken     int64   `json:"taken"`     // publications the subscriber's function returned from
	Pending   int64   `json:"pending"`   // node 2: received - taken - dropped
	Dropped   uint64  `json:"dropped"`   // node 2: Stats.Overflowed
	Received  uint64  `json:"received"`  // node 2: Stats.Received
	Delivered uint64  `json:"delivered"` // node 2: Stats.Delivered
}

// SlowResult is one policy's run.
type SlowResult struct {
	Policy         string       `json:"policy"`
	Pending        int          `json:"pending_limit"`
	PublishRate    int          `json:"publish_rate"`    // publications/s asked
	SubscriberRate int          `json:"subscriber_rate"` // publications/s it takes at most
	PayloadBytes   int          `json:"payload_bytes"`
	Samples        []SlowSample `json:"samples"`
	MaxRSSBytes    int64        `json:"max_rss_bytes"`
	Disconnected   bool         `json:"disconnected"` // the subscription ended with ErrSlowConsumer
	EndedAfter     float64      `json:"ended_after_seconds,omitempty"`
}

// slowStats is what node 2 answers to "slowstats".
type slowStats struct {
	Taken           int64  `json:"taken"`
	Received        uint64 `json:"received"`
	Delivered       uint64 `json:"delivered"`
	Dropped         uint64 `json:"dropped"`
	SlowDisconnects uint64 `json:"slow_disconnects"`
	Ended           string `json:"ended,omitempty"` // Subscription.Err, once ended
}

// runSlowSubscriber runs the scenario once per policy.
func (r *runner) runSlowSubscriber(ctx context.Context) error {
	c := r.cfg
	var errs []error
	for _, policy := range c.slowPolicies {
		if ctx.Err() != nil {
			break
		}
		res, err := r.slowRun(ctx, policy)
		if res != nil {
			r.res.Slow = append(r.res.Slow, *res)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *runner) slowRun(ctx context.Context, policy string) (_ *SlowResult, err error) {
	c := r.cfg
	pending := c.slowPending
	if policy == policyUnbounded {
		pending = 1 << 30
	}
	res := &SlowResult{Policy: policy, Pending: pending, PublishRate: slowSpeedup * c.slowRate, SubscriberRate: c.slowRate,
		PayloadBytes: max(c.slowPayload, stampSize)}
	r.section(fmt.Sprintf("slow subscriber, %s: publisher on node 1 at %d/s, its subscriber on node 2 takes %d/s, pending limit %d, %d-byte payload, %v",
		policy, res.PublishRate, res.SubscriberRate, pending, res.PayloadBytes, c.slowDuration))
	r.status("slow-subscriber " + policy + ": starting 3 nodes")
	bc, err := startCluster(ctx, 3, 16)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, bc.stop()) }()
	b := bc.node.Broker()
	if err := b.Declare(ctx, actors.Spec{Name: slowExchange, Kind: actors.PubSub}); err != nil {
		return nil, err
	}
	if err := bc.each(ctx, "declare", "pub-sub", slowExchange); err != nil {
		return nil, err
	}
	sub := bc.procs[0]
	p := policy
	if p == policyUnbounded {
		p = "drop-newest"
	}
	if _, err := sub.call(ctx, "slowsub", slowExchange, "prices.#", strconv.Itoa(c.slowRate), p, strconv.Itoa(pending)); err != nil {
		return nil, err
	}
	if err := awaitRemoteSubscriptionsOf(ctx, b, slowExchange, 1); err != nil {
		return nil, err
	}

	payload := newPayload(res.PayloadBytes)
	var published atomic.Uint64
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() {
		// Batches every 10 ms keep the rate without a timer per publication.
		const tick = 10 * time.Millisecond
		perTick := max(1, res.PublishRate/int(time.Second/tick))
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-pubCtx.Done():
				pubDone <- nil
				return
			case <-t.C:
			}
			for range perTick {
				if err := b.Publish(pubCtx, slowExchange, slowKey, payload); err != nil {
					if pubCtx.Err() != nil {
						pubDone <- nil
					} else {
						pubDone <- err
					}
					return
				}
				published.Add(1)
			}
		}
	}()
	start := time.Now()
	sample := func() error {
		rss, err := rssOf(sub.p.Pid())
		if err != nil {
			return err
		}
		out, err := sub.call(ctx, "slowstats", slowExchange)
		if err != nil {
			return err
		}
		var st slowStats
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return fmt.Errorf("slowstats: %w", err)
		}
		s := SlowSample{Seconds: time.Since(start).Seconds(), RSSBytes: rss, Published: published.Load(), Taken: st.Taken,
			Dropped: st.Dropped, Received: st.Received, Delivered: st.Delivered,
			Pending: int64(st.Delivered) - st.Taken}
		res.Samples = append(res.Samples, s)
		res.MaxRSSBytes = max(res.MaxRSSBytes, rss)
		if st.Ended != "" && !res.Disconnected {
			res.Disconnected, res.EndedAfter = true, s.Seconds
		}
		fmt.Fprintf(r.out, "  %5.1fs  rss %7.1f MB  published %8d  received %8d  taken %7d  pending %7d  dropped %8d%s\n",
			s.Seconds, float64(rss)/(1<<20), s.Published, s.Received, s.Taken, s.Pending, s.Dropped, endedNote(st.Ended))
		r.status(fmt.Sprintf("slow-subscriber %s: %.0fs of %v", policy, s.Seconds, c.slowDuration))
		return nil
	}
	tick := time.NewTicker(c.slowSample)
	defer tick.Stop()
	deadline := time.NewTimer(c.slowDuration)
	defer deadline.Stop()
	if err := sample(); err != nil {
		stopPub()
		return res, err
	}
loop:
	for {
		select {
		case <-tick.C:
			if err := sample(); err != nil {
				stopPub()
				return res, err
			}
		case <-deadline.C:
			break loop
		case err := <-pubDone:
			stopPub()
			return res, fmt.Errorf("slow-subscriber: publisher: %w", err)
		case <-ctx.Done():
			stopPub()
			return res, ctx.Err()
		}
	}
	stopPub()
	if err := <-pubDone; err != nil {
		return res, err
	}
	if err := sample(); err != nil {
		return res, err
	}
	first, last := res.Samples[0], res.Samples[len(res.Samples)-1]
	fmt.Fprintf(r.out, "  %s: rss max %.1f MB (first sample %.1f MB), %d published, %d dropped by node 2 (%.1f%%)%s\n",
		policy, float64(res.MaxRSSBytes)/(1<<20), float64(first.RSSBytes)/(1<<20), last.Published, last.Dropped,
		100*float64(last.Dropped)/float64(max(1, last.Received)), endedSummary(res))
	return res, nil
}

func endedNote(ended string) string {
	if ended == "" {
		return ""
	}
	return "  ended: " + ended
}

func endedSummary(res *SlowResult) string {
	if !res.Disconnected {
		return ""
	}
	return fmt.Sprintf(", subscription ended with ErrSlowConsumer after %.0f s", res.EndedAfter)
}

// rssOf reads VmRSS of process pid from /proc, in bytes.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("rss: %w", err)
	}
	return parseVmRSS(string(b))
}

// parseVmRSS finds "VmRSS:  1234 kB" in a /proc/PID/status text.
func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, errors.New("rss: no VmRSS line in /proc/PID/status")
}

// slowSubscriber is node 2's side: one SubscribeFunc that takes at most
// rate publications a second.
type slowSubscriber struct {
	taken atomic.Int64
	sub   *actors.Subscription
	// quit makes the function return at once: the cluster is stopping,
	// and a broker's Stop hands a SubscribeFunc everything still in its
	// mailbox first (up to the bound: 65 s at 1000/s).
	quit atomic.Bool
}

// subscribeSlow subscribes a function that takes rate publications a
// second to name, with the policy and bound given.
func subscribeSlow(ctx context.Context, b *actors.Broker, name, pattern string, rate int, policy string, pending int) (*slowSubscriber, error) {
	p, err := actors.ParseOverflowPolicy(policy)
	if err != nil {
		return nil, err
	}
	s := &slowSubscriber{}
	every := time.Second / time.Duration(rate)
	var next time.Time
	s.sub, err = b.SubscribeFunc(ctx, name, pattern, func(*actors.Publication) {
		if s.quit.Load() {
			return
		}
		// Paced on a schedule, not by sleeping a fixed time after each:
		// the rate holds whatever a sleep overshoots.
		now := time.Now()
		if next.IsZero() || next.Before(now.Add(-time.Second)) {
			next = now
		}
		next = next.Add(every)
		if d := next.Sub(now); d > 0 {
			time.Sleep(d)
		}
		s.taken.Add(1)
	}, actors.WithPending(pending), actors.WithOverflow(p))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// stats is node 2's answer to "slowstats".
func (s *slowSubscriber) stats(b *actors.Broker, name string) (string, error) {
	st, err := b.Stats(name)
	if err != nil {
		return "", err
	}
	out := slowStats{Taken: s.taken.Load(), Received: st.Received, Delivered: st.Delivered, Dropped: st.Overflowed,
		SlowDisconnects: st.SlowDisconnects}
	if err := s.sub.Err(); err != nil {
		out.Ended = err.Error()
	}
	b2, err := json.Marshal(out)
	return string(b2), err
}

// awaitRemoteSubscriptionsOf waits until node 1's routing table of name
// lists the subscriptions of n other nodes.
func awaitRemoteSubscriptionsOf(ctx context.Context, b *actors.Broker, name string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	self := b.Node()
	for {
		subs, err := b.Subscriptions(name)
		if err != nil {
			return err
		}
		remote := 0
		for _, s := range subs {
			if s.GetNode() != self && len(s.GetPatterns()) > 0 {
				remote++
			}
		}
		if remote >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node 1 lists subscriptions of %d other nodes to %s, want %d: %w", remote, name, n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
