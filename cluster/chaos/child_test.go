//go:build chaos

package chaos

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/cluster/static"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// childEnv marks a child process; the other CHAOS_ variables configure it
// (see childConfig).
const childEnv = "CHAOS_CHILD"

// childConfig is a child's configuration, from its environment.
type childConfig struct {
	node, host, cluster string
	port, dataPort      int
	peers               []string
	heartbeat, suspect  time.Duration
	deadline, pace      time.Duration
	rrCallers           int
	leadCallers         int
	leaderSource        string // callback, poll or both
	loadEnd             int64  // mono; 0: wait for the "load" command
	seed                uint64
}

func (c childConfig) env() []string {
	return []string{
		childEnv + "=1",
		"CHAOS_NODE=" + c.node, "CHAOS_HOST=" + c.host, "CHAOS_CLUSTER=" + c.cluster,
		"CHAOS_PORT=" + strconv.Itoa(c.port), "CHAOS_DATA_PORT=" + strconv.Itoa(c.dataPort),
		"CHAOS_PEERS=" + strings.Join(c.peers, ","),
		"CHAOS_HEARTBEAT=" + c.heartbeat.String(), "CHAOS_SUSPECT=" + c.suspect.String(),
		"CHAOS_DEADLINE=" + c.deadline.String(), "CHAOS_PACE=" + c.pace.String(),
		"CHAOS_RR_CALLERS=" + strconv.Itoa(c.rrCallers), "CHAOS_LEAD_CALLERS=" + strconv.Itoa(c.leadCallers),
		"CHAOS_LEADER_SOURCE=" + c.leaderSource,
		"CHAOS_LOAD_END=" + strconv.FormatInt(c.loadEnd, 10), "CHAOS_SEED=" + strconv.FormatUint(c.seed, 10),
		"CHAOS_DEBUG=" + debugEnv(), "CHAOS_HEAPPROF=" + heapProfEnv(),
	}
}

func childConfigFromEnv() (childConfig, error) {
	var c childConfig
	var errs []error
	str := func(k string) string { return os.Getenv("CHAOS_" + k) }
	num := func(k string) int64 {
		v, err := strconv.ParseInt(str(k), 10, 64)
		errs = append(errs, err)
		return v
	}
	dur := func(k string) time.Duration {
		v, err := time.ParseDuration(str(k))
		errs = append(errs, err)
		return v
	}
	c.node, c.host, c.cluster = str("NODE"), str("HOST"), str("CLUSTER")
	c.port, c.dataPort = int(num("PORT")), int(num("DATA_PORT"))
	c.peers = strings.Split(str("PEERS"), ",")
	c.heartbeat, c.suspect = dur("HEARTBEAT"), dur("SUSPECT")
	c.deadline, c.pace = dur("DEADLINE"), dur("PACE")
	c.rrCallers, c.leadCallers = int(num("RR_CALLERS")), int(num("LEAD_CALLERS"))
	c.leaderSource = str("LEADER_SOURCE")
	c.loadEnd = num("LOAD_END")
	c.seed = uint64(num("SEED"))
	return c, errors.Join(errs...)
}

// runChild is the body of a node process; it returns the exit status. It
// ends when its stdin closes (the parent stopped it, or died) or on SIGTERM
// or SIGINT.
func runChild() int {
	cfg, err := childConfigFromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos child: bad environment: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		time.Sleep(10 * time.Second)
		fmt.Fprintln(os.Stderr, "chaos child: not stopped 10 s after its end; exiting")
		os.Exit(3)
	}()
	out := &emitter{w: os.Stdout}
	c := &child{cfg: cfg, out: out, rng: rand.New(rand.NewPCG(cfg.seed, 1)), loadStart: make(chan int64, 1)}
	// Commands on stdin: "load <end>", "view", "yield"; EOF ends the child.
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmd, arg, _ := strings.Cut(sc.Text(), " ")
			switch cmd {
			case "load":
				if end, err := strconv.ParseInt(arg, 10, 64); err == nil {
					select {
					case c.loadStart <- end:
					default:
					}
				}
			case "view":
				c.reportView()
			case "yield":
				c.yield(ctx)
			}
		}
		cancel()
	}()
	if err := c.run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "chaos child %s: %v\n", cfg.node, err)
		return 1
	}
	return 0
}

// child is one node process.
type child struct {
	cfg       childConfig
	out       *emitter
	rng       *rand.Rand // only the goroutine of run uses it
	loadStart chan int64

	mu      sync.Mutex // guards node (read by the command reader), leadSvc, leadL
	node    *cluster.Node
	leadSvc *actors.Service
	leadL   *leadership

	reqs    requestLog
	streams streamLog
	leads   []*leadership
}

func (c *child) run(ctx context.Context) error {
	ncfg := cluster.DefaultConfig()
	ncfg.Cluster, ncfg.Node, ncfg.Host = c.cfg.cluster, c.cfg.node, c.cfg.host
	ncfg.Port, ncfg.DataPort = c.cfg.port, c.cfg.dataPort
	ncfg.HeartbeatInterval, ncfg.SuspectAfter = c.cfg.heartbeat, c.cfg.suspect
	ncfg.Discovery = static.New(c.cfg.peers...)
	ncfg.Labels = map[string]string{"chaos.node": c.cfg.node}
	ncfg.Kinds = c.kinds()
	ncfg.Logger = childLogger()
	n, err := cluster.Start(ctx, ncfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.node = n
	c.mu.Unlock()
	defer func() {
		c.out.emit(event{E: evBye})
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Stop(sctx); err != nil {
			fmt.Fprintf(os.Stderr, "chaos child %s: stop: %v\n", c.cfg.node, err)
		}
	}()
	inc := n.Self().Incarnation
	c.out.emit(event{E: evHello, Node: c.cfg.node, Inc: inc, Pid: os.Getpid()})
	// Membership events, for the time it takes to declare a killed node
	// down. The channel closes when the node stops.
	events, unsubscribe := n.Subscribe()
	var mwg sync.WaitGroup
	defer func() { unsubscribe(); mwg.Wait() }() // unsubscribe closes events
	mwg.Go(func() {
		for ev := range events {
			c.out.emit(event{E: evMember, Node: ev.Member.Node, Inc: ev.Member.Incarnation, Is: ev.Type == cluster.MemberUp, Src: string(ev.Reason)})
		}
	})
	b := n.Broker()
	for _, s := range []actors.Spec{
		{Name: "rr", Kind: actors.ReqResp, Strategy: "round-robin"},
		{Name: "lead", Kind: actors.ReqResp, Strategy: "consensus"},
		{Name: "feed", Kind: actors.PubSub},
		{Name: deployedExchange, Kind: actors.ReqResp, Strategy: "round-robin"},
	} {
		if err := b.Declare(ctx, s); err != nil {
			return fmt.Errorf("declare %s: %w", s.Name, err)
		}
	}
	for _, ex := range []string{"rr", "lead"} {
		l := &leadership{ex: ex, out: c.out}
		svc, err := c.serve(ctx, ex, l)
		if err != nil {
			return err
		}
		c.leads = append(c.leads, l)
		if ex == "lead" {
			c.mu.Lock()
			c.leadSvc, c.leadL = svc, l
			c.mu.Unlock()
		}
	}
	if err := c.deploy(ctx, n); err != nil {
		return err
	}
	c.streams = streamLog{out: c.out, m: map[string]*stream{}}
	if _, err := b.SubscribeFunc(ctx, "feed", "pub.#", c.streams.receive); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	c.reqs = requestLog{out: c.out, deadline: c.cfg.deadline, cur: map[string]*bucket{}}
	c.out.emit(event{E: evReady})

	var wg sync.WaitGroup
	bg, stopBg := context.WithCancel(ctx)
	defer func() { stopBg(); wg.Wait() }()
	wg.Go(func() { c.watch(bg) })

	loadEnd := c.cfg.loadEnd
	if loadEnd == 0 {
		select {
		case loadEnd = <-c.loadStart:
		case <-ctx.Done():
			return nil
		}
	}
	c.load(ctx, loadEnd, fmt.Sprintf("pub.%s.%d", c.cfg.node, inc))
	<-ctx.Done()
	return nil
}

// serve serves ex with a handler whose leadership l follows.
func (c *child) serve(ctx context.Context, ex string, l *leadership) (*actors.Service, error) {
	reply := wrapperspb.String(c.cfg.node)
	svc, err := c.node.Broker().Serve(ctx, ex, actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
		return reply, nil
	}), actors.OnLeading(func(lctx context.Context, _ uint64) {
		// The lease-aware source: acting from the moment leadership starts
		// until its context ends (lease run out, another leader, stop).
		if c.cfg.leaderSource != "poll" {
			l.observe(true, "callback")
			<-lctx.Done()
			l.observe(false, "callback")
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", ex, err)
	}
	if c.cfg.leaderSource != "callback" {
		l.setPoll(svc.IsLeader)
	}
	return svc, nil
}

// yield hands the leadership of "lead" over: it stops its handler (which
// steps down first) and serves a new one, the youngest. The parent asks the
// observer for it when it leads and a freeze of the leader is due, since
// the observer is never frozen.
func (c *child) yield(ctx context.Context) {
	c.mu.Lock()
	svc, l := c.leadSvc, c.leadL
	c.mu.Unlock()
	if svc == nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := svc.Stop(sctx); err != nil {
		fmt.Fprintf(os.Stderr, "chaos child %s: yield: stop: %v\n", c.cfg.node, err)
	}
	next, err := c.serve(ctx, "lead", l)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos child %s: yield: %v\n", c.cfg.node, err)
		return
	}
	c.mu.Lock()
	c.leadSvc = next
	c.mu.Unlock()
}

// watch runs until ctx ends: it polls leadership every millisecond, notices
// when the process did not run (frozen), flushes request buckets every
// 100 ms and reports stats and the view.
func (c *child) watch(ctx context.Context) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last := mono()
	var lastFlush, lastStats, lastView int64
	for {
		select {
		case <-ctx.Done():
			c.reqs.flush()
			return
		case <-tick.C:
		}
		now := mono()
		if gap := now - last; gap > int64(100*time.Millisecond) {
			// Frozen (or starved): the parent ended our leadership at the
			// freeze; say again that we act, if we still do.
			c.out.emit(event{E: evResume, Gap: gap})
			for _, l := range c.leads {
				l.reaffirm()
			}
		}
		last = now
		for _, l := range c.leads {
			l.pollOnce()
		}
		if now-lastFlush >= int64(100*time.Millisecond) {
			lastFlush = now
			c.reqs.flush()
		}
		if now-lastStats >= int64(time.Second) {
			lastStats = now
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			// The live heap (marked by the last GC) does not swing with
			// the GC cycle as heap in use does: the leak check uses it.
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			metrics.Read(live)
			c.out.emit(event{E: evStats, G: runtime.NumGoroutine(), Heap: ms.HeapInuse, Live: live[0].Value.Uint64()})
		}
		if now-lastView >= int64(time.Second) {
			lastView = now
			c.reportView()
			c.streams.summary()
		}
	}
}

// reportView emits what this node believes now.
func (c *child) reportView() {
	c.mu.Lock()
	n := c.node
	c.mu.Unlock()
	if n == nil {
		return
	}
	h := n.Broker()
	var v view
	for _, m := range n.Members() {
		v.Members = append(v.Members, fmt.Sprintf("%s#%d", m.Node, m.Incarnation))
	}
	handlers := func(ex string) []string {
		hs, _ := h.Handlers(ex)
		var s []string
		for _, hi := range hs {
			s = append(s, hi.GetNode()+"/"+hi.GetId())
		}
		slices.Sort(s)
		return s
	}
	leader := func(ex string) string {
		hi, _, err := h.Leader(ex)
		if err != nil {
			return "none"
		}
		return hi.GetNode() + "/" + hi.GetId()
	}
	slices.Sort(v.Members)
	v.RR, v.Lead = handlers("rr"), handlers("lead")
	v.Single, v.PerNode = deployedHandlers(h, singleService), deployedHandlers(h, perNodeService)
	v.RRLeader, v.LeadLeader = leader("rr"), leader("lead")
	c.out.emit(event{E: evView, View: &v})
}

// load runs the callers and the publisher until end (mono), then reports.
func (c *child) load(ctx context.Context, end int64, key string) {
	until, cancel := context.WithTimeout(ctx, time.Duration(end-mono()))
	defer cancel()
	b := c.node.Broker()
	var wg sync.WaitGroup
	call := func(ex string, jitter time.Duration) {
		time.Sleep(jitter) // spread the callers' phases
		payload := wrapperspb.String(c.cfg.node)
		for until.Err() == nil {
			// Read the clock first: a freeze between the two would otherwise
			// start a request with its deadline already past.
			start := mono()
			rctx, rcancel := context.WithTimeout(ctx, c.cfg.deadline)
			_, err := b.Request(rctx, ex, payload)
			rcancel()
			c.reqs.record(ex, start, mono(), err)
			pause := c.cfg.pace
			if err != nil {
				pause = max(pause, 10*time.Millisecond) // some failures are instant
			}
			select {
			case <-until.Done():
			case <-time.After(pause):
			}
		}
	}
	for range c.cfg.rrCallers {
		j := time.Duration(c.rng.Int64N(int64(c.cfg.pace) + 1))
		wg.Go(func() { call("rr", j) })
	}
	for range c.cfg.leadCallers {
		j := time.Duration(c.rng.Int64N(int64(c.cfg.pace) + 1))
		wg.Go(func() { call("lead", j) })
	}
	pubSeed := c.rng.Uint64()
	wg.Go(func() { c.publish(until, key, rand.New(rand.NewPCG(pubSeed, 2))) })
	wg.Wait()
	c.reqs.flush()
	c.streams.summary()
	writeHeapProfile(c.cfg.node)
	c.out.emit(event{E: evLoadDone})
}

// writeHeapProfile writes the process's heap profile to
// $CHAOS_HEAPPROF/<node>-<pid>.heap when that is set (-chaos.debug with
// -chaos.log): what a node process holds decides how long the kernel takes
// to tear it down after kill -9, before its sockets close.
func writeHeapProfile(node string) {
	dir := os.Getenv("CHAOS_HEAPPROF")
	if dir == "" {
		return
	}
	runtime.GC()
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.heap", node, os.Getpid())))
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos child %s: heap profile: %v\n", node, err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "chaos child %s: heap profile: %v\n", node, err)
	}
}

// publish publishes a numbered message every 1-2 ms until ctx ends. A failed
// publication is tried again with the same number, so that a stream has no
// gap of the publisher's making.
func (c *child) publish(ctx context.Context, key string, rng *rand.Rand) {
	b := c.node.Broker()
	var seq uint64 = 1
	var failed uint64
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := b.Publish(pctx, "feed", key, pubPayload(seq, mono()))
		cancel()
		if err == nil {
			seq++
		} else if ctx.Err() == nil {
			failed++
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond + time.Duration(rng.Int64N(int64(time.Millisecond)))):
		}
	}
	c.out.emit(event{E: evPubs, Key: key, To: seq - 1, N: failed})
}

// pubPayload is a publication's payload: its number and when it was
// published (mono), 8 bytes each. The time lets the parent tell whether a
// lost publication was in flight during a fault, even when the receipts
// around the gap both came after it (a backlog delivered after healing).
func pubPayload(seq uint64, at int64) *wrapperspb.BytesValue {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, seq)
	binary.BigEndian.PutUint64(b[8:], uint64(at))
	return wrapperspb.Bytes(b)
}

// classify names the class of a request's error.
func classify(err error) string {
	switch {
	case errors.Is(err, actors.ErrNodeDown):
		return classNodeDown
	case errors.Is(err, actors.ErrNoHandlers):
		return classNoHandlers
	case errors.Is(err, actors.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	case errors.Is(err, actors.ErrStopped), errors.Is(err, context.Canceled):
		return classStopped
	}
	return classOther
}

// maxFails bounds the failures one bucket lists; the rest are counted.
const maxFails = 500

// requestLog aggregates request outcomes per exchange into buckets.
type requestLog struct {
	out      *emitter
	deadline time.Duration
	mu       sync.Mutex
	cur      map[string]*bucket
}

type bucket struct {
	ok          int
	first, last int64
	errs        map[string]int
	fails       []fail
	dropped     int
	sample      string
}

func (r *requestLog) record(ex string, start, end int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.cur[ex]
	if b == nil {
		b = &bucket{errs: map[string]int{}}
		r.cur[ex] = b
	}
	if err == nil {
		b.ok++
		if b.first == 0 {
			b.first = end
		}
		b.last = end
		return
	}
	class := classify(err)
	b.errs[class]++
	if class == classOther && b.sample == "" {
		b.sample = err.Error()
	}
	// Waited out its deadline: by the time it took, not by its class (a
	// caller frozen for longer than the deadline fails at once on resuming).
	full := end-start >= int64(r.deadline-10*time.Millisecond)
	if len(b.fails) < maxFails {
		b.fails = append(b.fails, fail{C: class, S: start, D: end - start, F: full})
	} else {
		b.dropped++
	}
}

func (r *requestLog) flush() {
	r.mu.Lock()
	cur := r.cur
	r.cur = map[string]*bucket{}
	r.mu.Unlock()
	for _, ex := range []string{"rr", "lead"} {
		if b := cur[ex]; b != nil {
			r.out.emit(event{E: evReq, Ex: ex, OK: b.ok, First: b.first, Last: b.last, Errs: b.errs,
				Fails: b.fails, Dropped: b.dropped, Sample: b.sample})
		}
	}
}

// leadership decides whether one handler acts as its exchange's leader, and
// reports each start and stop. It is the one place to change when the
// framework gives leadership as a lease: feed observe from whatever says so
// (today OnLeader callbacks and a poll of Service.IsLeader; later a context
// from OnLeader that ends with the lease: observe(true) when it comes,
// observe(false) when it ends).
type leadership struct {
	ex  string
	out *emitter

	mu       sync.Mutex
	poll     func() bool // nil: no polling
	acting   bool
	lastTrue int64 // mono of the last poll that saw it lead
}

// setPoll sets the polled source (a new service's IsLeader after yield).
func (l *leadership) setPoll(fn func() bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.poll = fn
}

// observe records that a source says the handler leads (is) or not.
func (l *leadership) observe(is bool, src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set(is, src)
}

func (l *leadership) set(is bool, src string) { l.setAt(is, src, 0) }

// setAt records a start or stop at t (0: now). A polled start is dated at
// its poll, the instant a stop after it may be dated at (setPolled): stamped
// later, when it is written, a leadership seen by one poll alone had its
// stop before its start, and the final check took it for one that never
// stopped (seed 20261202: 8.7 s of "two leaders").
func (l *leadership) setAt(is bool, src string, t int64) {
	if is == l.acting {
		return
	}
	l.acting = is
	l.out.emit(event{E: evLead, T: t, Ex: l.ex, Is: is, Src: src})
}

// pollOnce reads the polled source. It reads under the lock, so that a
// stale reading never lands after a newer callback.
func (l *leadership) pollOnce() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.poll != nil {
		l.setPolled(l.poll())
	}
}

// setPolled records a poll. A stop is dated at the last poll that saw the
// handler lead: IsLeader reads the lease's clock, so the handler could not
// have acted after it, and the poller's own lag (the process is starved of
// CPU) must not be counted as acting.
func (l *leadership) setPolled(is bool) {
	now := mono()
	if is {
		l.lastTrue = now
		l.setAt(true, "poll", now)
		return
	}
	if l.acting && l.lastTrue != 0 {
		l.acting = false
		l.out.emit(event{E: evLead, T: l.lastTrue, Ex: l.ex, Is: false, Src: "poll"})
		return
	}
	l.set(false, "poll")
}

// reaffirm reports acting again if the handler still acts. The polled
// source is read first: after a freeze the lease has usually run out, and
// the handler must not be reported acting on its stale state.
func (l *leadership) reaffirm() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t int64 // dated at the poll, as setAt says
	if l.poll != nil {
		l.setPolled(l.poll())
		t = l.lastTrue
	}
	if l.acting {
		l.out.emit(event{E: evLead, T: t, Ex: l.ex, Is: true, Src: "resume"})
	}
}

// maxAnomalies bounds the gap, dup and late events of one stream.
const maxAnomalies = 1000

// streamLog follows every publisher's stream this node receives.
type streamLog struct {
	out *emitter
	mu  sync.Mutex
	m   map[string]*stream
}

type stream struct {
	first, last uint64
	lastPub     int64 // when last was published
	n           uint64
	missing     [][2]uint64 // ranges never received, oldest first
	anomalies   int
}

func (s *streamLog) receive(p *actors.Publication) {
	v, ok := p.Payload.(*wrapperspb.BytesValue)
	if !ok || len(v.GetValue()) != 16 {
		return
	}
	seq, pub, now := binary.BigEndian.Uint64(v.GetValue()), int64(binary.BigEndian.Uint64(v.GetValue()[8:])), mono()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[p.Key]
	if st == nil {
		s.m[p.Key] = &stream{first: seq, last: seq, lastPub: pub, n: 1}
		return
	}
	st.n++
	report := func(ev event) {
		if st.anomalies < maxAnomalies {
			st.anomalies++
			ev.Key = p.Key
			s.out.emit(ev)
		}
	}
	switch {
	case seq == st.last+1:
	case seq > st.last+1:
		st.missing = append(st.missing, [2]uint64{st.last + 1, seq - 1})
		report(event{E: evGap, From: st.last + 1, To: seq - 1, T0: st.lastPub, T: now})
	default:
		if st.fill(seq) {
			report(event{E: evLate, From: seq, T0: pub, T: now})
		} else {
			report(event{E: evDup, From: seq, T0: pub, T: now})
		}
		return
	}
	st.last, st.lastPub = seq, pub
}

// fill removes seq from the missing ranges; false if it was not missing.
func (st *stream) fill(seq uint64) bool {
	for i, r := range st.missing {
		if seq < r[0] || seq > r[1] {
			continue
		}
		switch {
		case r[0] == r[1]:
			st.missing = slices.Delete(st.missing, i, i+1)
		case seq == r[0]:
			st.missing[i][0]++
		case seq == r[1]:
			st.missing[i][1]--
		default:
			st.missing = slices.Insert(st.missing, i+1, [2]uint64{seq + 1, r[1]})
			st.missing[i][1] = seq - 1
		}
		return true
	}
	return false
}

func (s *streamLog) summary() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, st := range s.m {
		s.out.emit(event{E: evStream, Key: k, N: st.n, From: st.first, To: st.last})
	}
}

// The deployed services: a cluster singleton on every node but the
// observer (which is never killed or frozen on its own, so the singleton
// meets every fault), and a node singleton on every node.
const (
	deployedExchange = "dsvc"
	singleService    = "single"
	perNodeService   = "pernode"
	observerNode     = "n1"
)

// kinds registers the deployed services' constructors; the singleton's
// Placed and Removed events say when it may act (see deploy).
func (c *child) kinds() *deploy.Kinds {
	k := deploy.NewKinds()
	answer := func(context.Context, deploy.Spec, int) (deploy.Instance, error) {
		reply := wrapperspb.String(c.cfg.node)
		return deploy.Instance{Handler: actors.HandlerFunc(func(context.Context, *actors.Request) (proto.Message, error) {
			return reply, nil
		})}, nil
	}
	_ = k.Register(singleService, answer)
	_ = k.Register(perNodeService, answer)
	return k
}

// deploy applies the two services (every node applies the same specs: the
// first one wins, the others are no-ops) and reports when the singleton's
// instance on this node stops acting.
func (c *child) deploy(ctx context.Context, n *cluster.Node) error {
	events, unwatch := n.WatchDeploy()
	go func() { // ends when the node stops (the channel closes)
		defer unwatch()
		current := "" // the connection of the singleton instance acting here
		for ev := range events {
			// Placed: it may act from ev.At (taken before it connected,
			// the earliest it could answer; also when a lease that lapsed
			// came back and the same instance serves again). Removed: it
			// stopped acting at ev.At.
			// The Removed of an instance replaced already (its stop was
			// reported after its successor on this node started) does not
			// end the successor's acting.
			if ev.Service != singleService || ev.Type == deploy.Failed || ev.Type == deploy.Removed && ev.ConnID != current {
				continue
			}
			if ev.Type == deploy.Placed {
				current = ev.ConnID
			} else {
				current = ""
			}
			c.out.emit(event{E: evLead, Ex: singleService, Is: ev.Type == deploy.Placed, Src: "deploy", T: mono() - time.Since(ev.At).Nanoseconds()})
		}
	}()
	specs := []deploy.Spec{
		{Name: singleService, Exchange: deployedExchange, Kind: singleService, Mode: deploy.ModeClusterSingleton, ServiceTag: singleService,
			Selector: deploy.Selector{MatchExpressions: []deploy.Requirement{{Key: "chaos.node", Op: deploy.NotIn, Values: []string{observerNode}}}}},
		{Name: perNodeService, Exchange: deployedExchange, Kind: perNodeService, Mode: deploy.ModeNodeSingleton, ServiceTag: perNodeService},
	}
	for _, s := range specs {
		if err := n.Apply(ctx, s); err != nil {
			return fmt.Errorf("apply %s: %w", s.Name, err)
		}
	}
	return nil
}

// deployedHandlers lists the instances of service that the broker routes
// to, as node/key.
func deployedHandlers(b *actors.Broker, service string) []string {
	hs, _ := b.Handlers(deployedExchange)
	var out []string
	prefix := cluster.InstanceTagPrefix + service + "/"
	for _, h := range hs {
		if key, ok := strings.CutPrefix(h.GetConnTag(), prefix); ok {
			out = append(out, h.GetNode()+"/"+key)
		}
	}
	slices.Sort(out)
	return out
}

// childLogger logs to stderr (a file per process with -chaos.log). With
// -chaos.debug it logs at debug level and stamps every record with the
// host's monotonic clock (mono=ns), the clock of the parent's kill and exit
// times, so that the steps of a detection can be lined up across processes.
func childLogger() *slog.Logger {
	if os.Getenv("CHAOS_DEBUG") == "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(monoHandler{slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})})
}

// monoHandler adds mono=<CLOCK_MONOTONIC ns> to every record.
type monoHandler struct{ slog.Handler }

func (h monoHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.Int64("mono", mono()))
	return h.Handler.Handle(ctx, r)
}

func (h monoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return monoHandler{h.Handler.WithAttrs(as)}
}

func (h monoHandler) WithGroup(name string) slog.Handler {
	return monoHandler{h.Handler.WithGroup(name)}
}
