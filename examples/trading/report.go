package main

import (
	"fmt"
	"io"
	"maps"
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
// node's last one before it died) and on the placements before and after
// the kill, and writes the report.
func summarize(reps map[string]nodeReport, victim string, killedAt time.Time, before, after []placement) *result {
	res := &result{}
	var survivors []string
	for n := range reps {
		if n != victim {
			survivors = append(survivors, n)
		}
	}
	sort.Strings(survivors)
	for _, n := range append([]string{victim}, survivors...) {
		if p := reps[n].Problem; p != "" {
			res.fail("%s: %s", n, p)
		}
	}
	checkPlacements(res, before, slices.Sorted(maps.Keys(reps)), "")
	checkPlacements(res, after, survivors, " after the kill")
	summarizePrices(res, reps, survivors, victim)
	summarizeOrders(res, reps, survivors)
	summarizeSticky(res, reps, victim)
	summarizeEngine(res, reps, victim, survivors, killedAt)
	summarizeMatching(res, reps, victim, survivors, killedAt)
	return res
}

// checkPlacements checks that what runs is what trading.yaml asks for on
// the live nodes: one engine, a feed and a desk on each node, six books
// with at most three on a node, and nothing elsewhere.
func checkPlacements(res *result, pl []placement, live []string, when string) {
	count := map[string]map[string]int{} // service -> node -> running instances
	for _, x := range pl {
		switch x.State {
		case stateRunning:
		case stateStopping:
			// A replica that Place moved between live nodes: its
			// successor runs, and it stops once every node routes there.
			continue
		default:
			res.fail("%s/%s on %s is %s%s", x.Service, x.Key, x.Node, x.State, when)
			continue
		}
		if !slices.Contains(live, x.Node) {
			res.fail("%s/%s runs on %s, not a live node%s", x.Service, x.Key, x.Node, when)
		}
		if count[x.Service] == nil {
			count[x.Service] = map[string]int{}
		}
		count[x.Service][x.Node]++
	}
	total := func(svc string) int {
		n := 0
		for _, c := range count[svc] {
			n += c
		}
		return n
	}
	if n := total(svcEngine); n != 1 {
		res.fail("%d engines run%s, want 1", n, when)
	}
	if n := total(svcBooks); n != bookReplicas {
		res.fail("%d books run%s, want %d", n, when, bookReplicas)
	}
	for node, n := range count[svcBooks] {
		if n > 3 {
			res.fail("%d books run on %s%s, want at most 3", n, node, when)
		}
	}
	for _, svc := range []string{svcFeed, svcDesk} {
		for _, node := range live {
			if n := count[svc][node]; n != 1 {
				res.fail("%d %s instances run on %s%s, want 1", n, svc, node, when)
			}
		}
	}
}

func summarizePrices(res *result, reps map[string]nodeReport, survivors []string, victim string) {
	var published, livePublished int64
	keys := 0
	byRemote := map[int]*netCount{}
	var liveVenues []string
	for n, r := range reps {
		fs := r.Feed
		if fs == nil {
			res.fail("no feed on %s", n)
			continue
		}
		if fs.Err != "" {
			res.fail("the feed on %s stopped: %s", n, fs.Err)
		}
		keys += len(fs.Published)
		for _, c := range fs.Published {
			published += c
			if n != victim {
				livePublished += c
			}
		}
		if n != victim {
			liveVenues = append(liveVenues, fs.Venue)
		}
		for k, c := range fs.ByRemote {
			if byRemote[k] == nil {
				byRemote[k] = &netCount{}
			}
			byRemote[k].Prices += c.Prices
			byRemote[k].Messages += c.Messages
		}
	}
	slices.Sort(liveVenues)
	var delivered, lost, disorder int64
	sessions := 0
	for n, r := range reps {
		delivered += r.Delivered
		for _, s := range r.Sessions {
			sessions += s
		}
		if !slices.Contains(survivors, n) {
			continue
		}
		lost += r.Lost
		disorder += r.Disorder
		if r.Lost > 0 {
			res.fail("%d prices lost on surviving node %s", r.Lost, n)
		}
		if r.Disorder > 0 {
			res.fail("%d prices out of order or repeated on %s", r.Disorder, n)
		}
		if !slices.Equal(r.Venues, liveVenues) {
			res.fail("%s verified the venues %v, want the live feeds' %v", n, r.Venues, liveVenues)
		}
	}
	res.say("prices: %d updates from %d venue feeds on %d keys, %d deliveries to %d sessions on %d nodes; lost on surviving nodes: %d of the live feeds' %d; out of order: %d",
		published, len(reps), keys, delivered, sessions, len(reps), lost, livePublished, disorder)
	if vf := reps[victim].Feed; vf != nil {
		var n int64
		for _, c := range vf.Published {
			n += c
		}
		res.say("prices: %s's feed (%s) published %d updates until its node was killed; the live feeds (%s) answered on %q",
			victim, vf.Venue, n, strings.Join(liveVenues, ", "), exQuotes)
	}

	// One network message per other node with subscribers, whatever the
	// number of sessions there (the per-node proxy copies it locally).
	var parts []string
	var remotes []int
	for r := range byRemote {
		remotes = append(remotes, r)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(remotes)))
	for _, r := range remotes {
		c := byRemote[r]
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
		if c := byRemote[want]; c == nil || c.Prices == 0 {
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
	// Tables in the order the nodes last routed with them: before the
	// kill, while the dead node's books were being placed again, after.
	// Not by first use: a node may first route with a table after
	// another node already routes with the table that replaced it (a
	// replica moving adds its new book before the old one stops), while
	// the final table is in use until the end.
	seen := map[string]int64{}
	for _, r := range reps {
		for t, at := range r.StickyLast {
			seen[t] = max(seen[t], at)
		}
	}
	var order []string
	for t := range tables {
		order = append(order, t)
	}
	size := func(t string) int { return strings.Count(t, ",") + 1 }
	sort.Slice(order, func(i, j int) bool { return seen[order[i]] < seen[order[j]] })
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
				if !strings.HasSuffix(b, "@"+victim) {
					fromLive++
				}
			}
		}
		// Every symbol whose book was on the dead node moves. Consistent
		// hashing with bounded loads may move a few more between live
		// books when the table changes (sticky hashes connection ids, so
		// a replica placed again elsewhere is a new book to it); the run
		// reports it.
		noun := "symbols"
		if moved == 1 {
			noun = "symbol"
		}
		res.say("sticky: after the kill %d %s moved to another book: %d off %s's books, %d between surviving books", moved, noun, moved-fromLive, victim, fromLive)
	}
}

// summarizeEngine checks the cluster singleton by the engines' lives, from
// construction to Stop: the engine ran on the dead node when it was
// killed, then on exactly one survivor, constructed after the kill; the
// cluster never ran two at once. An engine stopped and started again on
// the same node (its node's leadership of the singleton was interrupted)
// is counted as a restart in place, and shown.
func summarizeEngine(res *result, reps map[string]nodeReport, victim string, survivors []string, killedAt time.Time) {
	type life struct {
		node     string
		from, to int64
	}
	var lives []life
	for n, r := range reps {
		for _, iv := range r.EngineLives {
			lives = append(lives, life{n, iv.From, iv.To})
		}
	}
	sort.Slice(lives, func(i, j int) bool { return lives[i].from < lives[j].from })
	kill := killedAt.UnixNano()
	var before, after []life
	for _, l := range lives {
		if l.from < kill {
			before = append(before, l)
		} else {
			after = append(after, l)
		}
	}
	if len(before) == 0 || before[len(before)-1].node != victim || before[len(before)-1].to != 0 {
		res.fail("the engine running when %s was killed was not %s's: %v", victim, victim, before)
		return
	}
	if len(after) != 1 || !slices.Contains(survivors, after[0].node) || after[0].to != 0 {
		res.fail("after the kill the cluster ran the engines %v, want one, on a survivor, still running", after)
		return
	}
	moves, restarts := 0, 0
	for i := 1; i < len(lives); i++ {
		prev, l := lives[i-1], lives[i]
		end := prev.to
		if end == 0 {
			end = kill // the killed node's engine ended with its process
		}
		if l.from < end {
			res.fail("%s's engine started %v before %s's ended: two engines", l.node, time.Duration(end-l.from), prev.node)
		}
		if l.node == prev.node {
			restarts++
		} else {
			moves++
		}
	}
	if moves != 1 {
		res.fail("the engine moved %d times, want once: %v", moves, lives)
	}
	res.say("engine: one instance, moved from %s to %s after the kill: placed there %s after it, never two at once; restarts in place: %d",
		victim, after[0].node, time.Duration(after[0].from-kill).Round(time.Millisecond), restarts)
}

// summarizeMatching checks the engines' own account: the dead node's
// engine led "matching" until it was killed, the new one led only after
// the kill, and no other engine matched.
func summarizeMatching(res *result, reps map[string]nodeReport, victim string, survivors []string, killedAt time.Time) {
	vr := reps[victim]
	if n := len(vr.Leading); n == 0 || vr.Leading[n-1].To != 0 {
		res.fail("%s was not leading when it was killed: %v", victim, vr.Leading)
	}
	newLeader := reps[survivors[0]].Leader
	for _, n := range survivors {
		if l := reps[n].Leader; l != newLeader {
			res.fail("surviving nodes disagree on the new leader: %s says %s, %s says %s", survivors[0], newLeader, n, l)
		}
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
	res.say("matching: %s matched %d orders until it was killed; %s led %q %s after the kill (first order matched after %s) and matched %d",
		victim, vr.Engine.Matched, newLeader, exMatching, took.Round(time.Millisecond), firstMatch.Round(time.Millisecond), reps[newLeader].Engine.Matched)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
