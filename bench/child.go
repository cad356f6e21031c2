package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/static"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Environment of a child process. childEnv names the child and marks the
// process as one.
const (
	childEnv        = "BOURSE_BENCH_CHILD"
	childPortEnv    = "BOURSE_BENCH_PORT"
	childPeersEnv   = "BOURSE_BENCH_PEERS"
	childClusterEnv = "BOURSE_BENCH_CLUSTER"
)

// replyPrefix starts every line a child writes for its parent, so that
// anything else on its stdout is told apart.
const replyPrefix = "bench-child "

// stopGrace bounds how long a child takes to stop its node once its stdin
// has closed; then it exits anyway.
const stopGrace = 10 * time.Second

// command is one line the parent sends a child.
type command struct {
	ID   int      `json:"id"`
	Cmd  string   `json:"cmd"`
	Args []string `json:"args,omitempty"`
}

// message is one line a child sends its parent: the answer to command ID, or
// an event (ID 0).
type message struct {
	ID     int    `json:"id,omitempty"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	Event  string `json:"event,omitempty"` // "address", "done"
	Seq    int    `json:"seq,omitempty"`
	TS     int64  `json:"ts,omitempty"` // unix nanoseconds
}

// isChild reports whether this process is a bench child.
func isChild() bool { return os.Getenv(childEnv) != "" }

// nodeConfig is the cluster configuration of every bench node. Heartbeats are
// given more slack than the default: a benchmark keeps both cores busy, and a
// node declared dead in the middle of a row would fail it.
func nodeConfig(clusterName, node string, port int, peers []string) cluster.Config {
	cfg := cluster.DefaultConfig()
	cfg.Cluster = clusterName
	cfg.Node = node
	cfg.Port = port
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.SuspectAfter = 10 * time.Second
	cfg.JoinTimeout = 5 * time.Second
	cfg.Discovery = static.New(peers...)
	cfg.Logger = quietLogger()
	cfg.MetricsListen = metricsListen
	cfg.MetricsProtoactor = metricsProtoactor
	return cfg
}

// logLevel is the level of quietLogger: warnings, raised while nodes stop,
// when protoactor logs every connection that closes as an error.
var logLevel = func() *slog.LevelVar {
	var v slog.LevelVar
	v.Set(slog.LevelWarn)
	return &v
}()

// quietLogger logs to stderr at logLevel: the bench's stdout is its table.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
}

// childMain is the body of a child process; it returns the exit status.
func childMain() int {
	name := os.Getenv(childEnv)
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", name, err)
		return 1
	}
	port, err := strconv.Atoi(os.Getenv(childPortEnv))
	if err != nil {
		return fail(fmt.Errorf("%s: %v", childPortEnv, err))
	}
	// Ctrl-C in a terminal reaches the whole process group; the parent
	// handles it and closes our stdin, so that nodes stop in order.
	if m := os.Getenv(childMetricsEnv); m != "" {
		metricsListen, metricsProtoactor = "127.0.0.1:0", m == "protoactor"
	}
	signal.Ignore(os.Interrupt)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := nodeConfig(os.Getenv(childClusterEnv), name, port, strings.Split(os.Getenv(childPeersEnv), ","))
	n, err := cluster.Start(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	c := &childState{node: n, out: bufio.NewWriter(os.Stdout)}
	c.send(message{Event: "address", Result: n.Address()})

	lines := make(chan string)
	go func() {
		// EOF on stdin means the parent is done or dead.
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	status := 0
loop:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break loop
			}
			var cmd command
			if err := json.Unmarshal([]byte(line), &cmd); err != nil {
				c.send(message{Error: fmt.Sprintf("bad command %q: %v", line, err)})
				continue
			}
			res, err := c.handle(ctx, cmd)
			m := message{ID: cmd.ID, Result: res}
			if err != nil {
				m.Error = err.Error()
			}
			c.send(m)
		case <-term:
			status = 1
			break loop
		}
	}
	cancel()
	logLevel.Set(slog.LevelError + 1)
	// Stop the node, but never hang: a parent that is gone waits for nobody.
	go func() {
		time.Sleep(stopGrace)
		fmt.Fprintf(os.Stderr, "bench child %s: node did not stop within %v; exiting\n", name, stopGrace)
		os.Exit(3)
	}()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), stopGrace)
	defer stopCancel()
	if err := n.Stop(stopCtx); err != nil {
		return fail(err)
	}
	return status
}

// childState is what a child's commands act on.
type childState struct {
	node *cluster.Node
	slow *slowSubscriber // the slow-subscriber scenario's, once subscribed
	flap sync.Map        // flapping handlers' silent flags by actor id (serveflap)
	mu   sync.Mutex      // guards out: answers and events come from several goroutines
	out  *bufio.Writer
}

func (c *childState) send(m message) {
	b, _ := json.Marshal(m) // plain fields always marshal
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.WriteString(replyPrefix)
	c.out.Write(b)
	c.out.WriteByte('\n')
	c.out.Flush()
}

// handle runs one command and returns its result.
func (c *childState) handle(ctx context.Context, cmd command) (string, error) {
	arg := func(i int) string {
		if i < len(cmd.Args) {
			return cmd.Args[i]
		}
		return ""
	}
	num := func(i int) (int, error) {
		n, err := strconv.Atoi(arg(i))
		if err != nil {
			return 0, fmt.Errorf("%s: argument %d: %v", cmd.Cmd, i, err)
		}
		return n, nil
	}
	b := c.node.Broker()
	switch cmd.Cmd {
	case "members": // members N: wait until N nodes are seen
		want, err := num(0)
		if err != nil {
			return "", err
		}
		if err := awaitMembers(ctx, c.node, want); err != nil {
			return "", err
		}
		return strconv.Itoa(len(c.node.Members())), nil
	case "declare": // declare KIND NAME [STRATEGY]
		kind, err := parseKind(arg(0))
		if err != nil {
			return "", err
		}
		return "", b.Declare(ctx, actors.Spec{Name: arg(1), Kind: kind, Strategy: arg(2)})
	case "serve": // serve NAME HANDLERS
		n, err := num(1)
		if err != nil {
			return "", err
		}
		return "", serveEcho(ctx, b, arg(0), n)
	case "serve-counted": // serve-counted NAME WORK QUEUE: one counted handler (localfirst.go)
		work, err := time.ParseDuration(arg(1))
		if err != nil {
			return "", fmt.Errorf("serve-counted: work: %v", err)
		}
		queue, err := num(2)
		if err != nil {
			return "", err
		}
		return "", serveCounted(ctx, b, arg(0), work, queue)
	case "served": // served NAME: what the counted handlers of NAME served here
		return strconv.FormatInt(servedCounter(arg(0)).Load(), 10), nil
	case "echo": // echo ACTOR: spawn a named echo actor for the raw reference
		_, err := b.System().Root.SpawnNamed(echoProps(), arg(0))
		return "", err
	case "subscribe": // subscribe NAME PATTERN COUNT CAPACITY
		count, err := num(2)
		if err != nil {
			return "", err
		}
		capacity, err := num(3)
		if err != nil {
			return "", err
		}
		t := newTracker(count, capacity, func(seq int, ts int64) { c.send(message{Event: "done", Seq: seq, TS: ts}) })
		return "", subscribeMany(ctx, b, arg(0), arg(1), count, t)
	case "slowsub": // slowsub NAME PATTERN RATE POLICY PENDING
		rate, err := num(2)
		if err != nil {
			return "", err
		}
		pending, err := num(4)
		if err != nil {
			return "", err
		}
		c.slow, err = subscribeSlow(ctx, b, arg(0), arg(1), rate, arg(3), pending)
		return "", err
	case "slowstats": // slowstats NAME
		if c.slow == nil {
			return "", fmt.Errorf("slowstats: no slowsub yet")
		}
		return c.slow.stats(b, arg(0))
	case "serveslow": // serveslow NAME DELAY_MS: one handler that takes DELAY_MS per request
		ms, err := num(1)
		if err != nil {
			return "", err
		}
		return "", serveSlow(ctx, b, arg(0), time.Duration(ms)*time.Millisecond)
	case "serveflap": // serveflap NAME ID: one handler, actor ID, that answers until told otherwise
		silent := &atomic.Bool{}
		c.flap.Store(arg(1), silent)
		return "", serveFlap(ctx, b, arg(0), arg(1), silent)
	case "flap": // flap ID silent|answer
		v, ok := c.flap.Load(arg(0))
		if !ok {
			return "", fmt.Errorf("flap: no handler %q", arg(0))
		}
		v.(*atomic.Bool).Store(arg(1) == "silent")
		return "", nil
	case "owner":
		return c.node.Owner(arg(0)), nil
	case "quiet": // the cluster is stopping: peers that leave are no news
		logLevel.Set(slog.LevelError + 1)
		if c.slow != nil {
			c.slow.quit.Store(true)
		}
		return "", nil
	case "cpu":
		return strconv.FormatInt(int64(cpuTime()), 10), nil
	}
	return "", fmt.Errorf("unknown command %q", cmd.Cmd)
}

// parseKind parses "req-resp" or "pub-sub".
func parseKind(s string) (actors.Kind, error) {
	switch s {
	case "req-resp":
		return actors.ReqResp, nil
	case "pub-sub":
		return actors.PubSub, nil
	}
	return 0, fmt.Errorf("unknown exchange kind %q", s)
}

// awaitMembers waits until n sees want live members.
func awaitMembers(ctx context.Context, n *cluster.Node, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(n.Members()) < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s sees %d members, want %d: %w", n.Name(), len(n.Members()), want, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// echoProps is protoactor's echo actor, on protoactor's default dispatcher:
// the reference a bourse cycle is compared with.
func echoProps() *actor.Props {
	return actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*wrapperspb.BytesValue); ok {
			c.Respond(m)
		}
	})
}
