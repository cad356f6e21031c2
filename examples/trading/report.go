package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// result is the run's report: lines to print, and the invariants that
// failed.
type result struct {
	lines    []string
	failures []string
}

func (r *result) say(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *result) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *result) print(out io.Writer) {
	for _, l := range r.lines {
		fmt.Fprintln(out, l)
	}
	if len(r.failures) == 0 {
		fmt.Fprintln(out, "invariants: ok")
		return
	}
	fmt.Fprintf(out, "invariants: %d FAILED\n", len(r.failures))
	for _, f := range r.failures {
		fmt.Fprintln(out, "  "+f)
	}
}

// summarize checks the invariants on the nodes' last reports (the killed
// node's last one before it died) and writes the report.
func summarize(reps map[string]nodeReport, victim, feeder string, killedAt time.Time) *result {
	res := &result{}
	var survivors []string
	for n := range reps {
		if n != victim {
			survivors = append(survivors, n)
		}
	}
	sort.Strings(survivors)
	summarizePrices(res, reps, survivors, feeder)
	summarizeOrders(res, reps, survivors)
	summarizeSticky(res, reps, victim)
	summarizeMatching(res, reps, victim, survivors, killedAt)
	return res
}

func summarizePrices(res *result, reps map[string]nodeReport, survivors []string, feeder string) {
	fs := reps[feeder].Feed
	if fs == nil {
		res.fail("the feed on %s reported nothing", feeder)
		return
	}
	var published int64
	for _, n := range fs.Published {
		published += n
	}
	var delivered, lost, disorder int64
	sessions := 0
	for n, r := range reps {
		delivered += r.Delivered
		for _, s := range r.Sessions {
			sessions += s
		}
		if slices.Contains(survivors, n) {
			lost += r.Lost
			disorder += r.Disorder
			if r.Lost > 0 {
				res.fail("%d prices lost on surviving node %s", r.Lost, n)
			}
			if r.Disorder > 0 {
				res.fail("%d prices out of order or repeated on %s", r.Disorder, n)
			}
		}
	}
	res.say("prices: %d updates on %d keys, %d deliveries to %d sessions on %d nodes; lost on surviving nodes: %d; out of order: %d",
		published, len(fs.Published), delivered, sessions, len(reps), lost, disorder)

	// One network message per other node with subscribers, whatever the
	// number of sessions there (the per-node proxy copies it locally).
	var parts []string
	var remotes []int
	for r := range fs.ByRemote {
		remotes = append(remotes, r)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(remotes)))
	for _, r := range remotes {
		c := fs.ByRemote[r]
		if c.Prices == 0 {
			continue
		}
		per := float64(c.Messages) / float64(c.Prices)
		nodes := "nodes"
		if r == 1 {
			nodes = "node"
		}
		parts = append(parts, fmt.Sprintf("%.2f while %d other %s had subscribers (%d updates)", per, r, nodes, c.Prices))
		if c.Messages != int64(r)*c.Prices {
			res.fail("%d network messages for %d price updates while %d other nodes had subscribers, want %d", c.Messages, c.Prices, r, int64(r)*c.Prices)
		}
	}
	for _, want := range []int{len(reps) - 1, len(survivors) - 1} {
		if c := fs.ByRemote[want]; c == nil || c.Prices == 0 {
			res.fail("no price update measured while %d other nodes had subscribers", want)
		}
	}
	res.say("prices: network messages per price update: %s", strings.Join(parts, ", "))
}

func summarizeOrders(res *result, reps map[string]nodeReport, survivors []string) {
	var t orderStats
	for n, r := range reps {
		o := r.Orders
		t.Sent += o.Sent
		t.Matched += o.Matched
		t.Rejected += o.Rejected
		t.Invalid += o.Invalid
		t.Retried += o.Retried
		t.Failed += o.Failed
		t.Over += o.Over
		t.WrongRisk += o.WrongRisk
		if o.WrongRisk > 0 {
			res.fail("the risk check got %d orders of %s wrong (accepted over the limit or rejected under it)", o.WrongRisk, n)
		}
		if !slices.Contains(survivors, n) {
			continue // its last report may be in the middle of an order
		}
		if o.Failed > 0 {
			res.fail("%d orders of %s got no answer within %v", o.Failed, n, orderDeadline)
		}
		if o.Sent != o.Matched+o.Rejected+o.Invalid+o.Failed {
			res.fail("%s sent %d orders but got %d answers", n, o.Sent, o.Matched+o.Rejected+o.Invalid+o.Failed)
		}
	}
	if t.Over > 0 && t.Rejected == 0 {
		res.fail("no order rejected although %d were over the limit", t.Over)
	}
	if t.Matched == 0 {
		res.fail("no order matched")
	}
	res.say("orders: sent %d, matched %d, rejected %d (over the %.0f limit: errors.Is(err, actors.ErrRejected)), invalid %d, retries during the failover %d, unanswered %d",
		t.Sent, t.Matched, t.Rejected, riskLimit, t.Invalid, t.Retried, t.Failed)
}

// summarizeSticky checks that, for each books table the nodes routed with,
// each symbol reached a single book whatever node sent it.
func summarizeSticky(res *result, reps map[string]nodeReport, victim string) {
	type obs struct {
		books map[string]bool
		nodes map[string]bool
	}
	tables := map[string]map[string]*obs{}
	for n, r := range reps {
		for table, bySym := range r.Sticky {
			if tables[table] == nil {
				tables[table] = map[string]*obs{}
			}
			for sym, books := range bySym {
				o := tables[table][sym]
				if o == nil {
					o = &obs{books: map[string]bool{}, nodes: map[string]bool{}}
					tables[table][sym] = o
				}
				o.nodes[n] = true
				for _, b := range books {
					o.books[b] = true
				}
			}
		}
	}
	// Tables from the largest (before the kill) to the smallest.
	var order []string
	for t := range tables {
		order = append(order, t)
	}
	size := func(t string) int { return strings.Count(t, ",") + 1 }
	sort.Slice(order, func(i, j int) bool { return size(order[i]) > size(order[j]) })
	owner := map[string]map[string]string{} // table -> symbol -> book
	var parts []string
	for _, t := range order {
		owner[t] = map[string]string{}
		one, minNodes, maxNodes := 0, len(reps), 0
		for sym, o := range tables[t] {
			if len(o.books) == 1 {
				one++
				for b := range o.books {
					owner[t][sym] = b
				}
			} else {
				res.fail("symbol %s reached %d books in one table of %d books: %v", sym, len(o.books), size(t), keys(o.books))
			}
			minNodes, maxNodes = min(minNodes, len(o.nodes)), max(maxNodes, len(o.nodes))
		}
		from := fmt.Sprintf("%d nodes", minNodes)
		if minNodes != maxNodes {
			from = fmt.Sprintf("%d-%d nodes", minNodes, maxNodes)
		}
		parts = append(parts, fmt.Sprintf("with %d books, %d of %d symbols each reached one book, from %s", size(t), one, len(tables[t]), from))
	}
	if len(order) == 0 {
		res.fail("no order reached a book")
	}
	res.say("sticky: %s", strings.Join(parts, "; "))
	if len(order) >= 2 {
		first, last := owner[order[0]], owner[order[len(order)-1]]
		moved, fromLive := 0, 0
		for sym, b := range first {
			if nb, ok := last[sym]; ok && nb != b {
				moved++
				if !strings.HasPrefix(b, victim+"/") {
					fromLive++
				}
			}
		}
		// Consistent hashing with bounded loads may move a few keys between
		// live handlers when capacity changes; the run reports it.
		noun := "symbols"
		if moved == 1 {
			noun = "symbol"
		}
		res.say("sticky: after the kill %d %s moved to another book: %d off %s's books, %d between surviving books", moved, noun, moved-fromLive, victim, fromLive)
	}
}

func summarizeMatching(res *result, reps map[string]nodeReport, victim string, survivors []string, killedAt time.Time) {
	vr := reps[victim]
	if n := len(vr.Leading); n == 0 || vr.Leading[n-1].To != 0 {
		res.fail("%s was not leading when it was killed: %v", victim, vr.Leading)
	}
	newLeader := reps[survivors[0]].Leader
	changes := -1
	for _, n := range survivors {
		r := reps[n]
		if r.Leader != newLeader {
			res.fail("surviving nodes disagree on the new leader: %s says %s, %s says %s", survivors[0], newLeader, n, r.Leader)
		}
		c := len(r.LeadersSeen) - 1
		if changes >= 0 && c != changes {
			res.fail("%s saw %d leader changes (%v), %s %d", n, c, r.LeadersSeen, survivors[0], changes)
		}
		changes = c
	}
	var took, firstMatch time.Duration
	for _, n := range survivors {
		r := reps[n]
		if n != newLeader {
			if len(r.Leading) > 0 || r.Engine.Matched > 0 {
				res.fail("%s led %v and matched %d orders without being the leader", n, r.Leading, r.Engine.Matched)
			}
			continue
		}
		if len(r.Leading) != 1 || r.Leading[0].To != 0 {
			res.fail("new leader %s led in %v, want one interval, still open", n, r.Leading)
			continue
		}
		since := time.Unix(0, r.Leading[0].From)
		if since.Before(killedAt) {
			res.fail("%s led from %v before %s was killed: two leaders", n, killedAt.Sub(since), victim)
		}
		if r.Engine.Matched == 0 {
			res.fail("new leader %s matched no order", n)
		} else if time.Unix(0, r.Engine.First).Before(killedAt) {
			res.fail("%s matched orders before %s was killed: two engines matching", n, victim)
		}
		took = since.Sub(killedAt)
		firstMatch = time.Unix(0, r.Engine.First).Sub(killedAt)
	}
	if changes != 1 {
		res.fail("%d leader changes, want 1", changes)
	}
	res.say("matching: %s matched %d orders until it was killed; %s took over %s after the kill (first order matched after %s) and matched %d; leader changes: %d",
		victim, vr.Engine.Matched, newLeader, took.Round(time.Millisecond), firstMatch.Round(time.Millisecond), reps[newLeader].Engine.Matched, changes)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
