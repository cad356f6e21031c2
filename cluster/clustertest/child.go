package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// childEnv names the child function in a child's environment.
const childEnv = "BOURSE_CLUSTERTEST_CHILD"

// setPrefix starts the lines a child writes to report a value.
const setPrefix = "bourse-clustertest-set "

// exitGrace is how long a child's function may run after its context is
// canceled before the process exits anyway.
const exitGrace = 10 * time.Second

// ChildFunc is the body of a child process. ctx is canceled when the parent
// calls Process.Stop or dies, or on SIGTERM or SIGINT; the function should
// then stop cleanly and return. A non-nil error is printed and makes the
// child exit with status 1.
type ChildFunc func(ctx context.Context, c *Child) error

// Child is a child process's link to its parent.
type Child struct {
	name string
	mu   sync.Mutex
	out  io.Writer
}

// Name returns the name the child was started under.
func (c *Child) Name() string { return c.name }

// Set reports value under key to the parent (see Process.Value and
// Process.Await). A later Set of the same key replaces the value. It is safe
// for concurrent use.
func (c *Child) Set(key, value string) {
	b, _ := json.Marshal(struct{ K, V string }{key, value}) // strings always marshal
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "%s%s\n", setPrefix, b)
}

// IsChild reports whether the current process is a child started by Start.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// Main runs the child function the environment names, then exits the
// process, when the current process is a child started by Start. Otherwise
// it returns at once. Call it first in TestMain, before anything that starts
// goroutines or parses flags.
func Main(children map[string]ChildFunc) {
	name := os.Getenv(childEnv)
	if name == "" {
		return
	}
	fn, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "clustertest: no child function %q registered in TestMain\n", name)
		os.Exit(2)
	}
	os.Exit(runChild(name, fn))
}

func runChild(name string, fn ChildFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The parent holds our stdin open and never writes to it: EOF means it
	// called Stop or died.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	go func() {
		<-ctx.Done()
		time.Sleep(exitGrace)
		fmt.Fprintf(os.Stderr, "clustertest: child %q did not return %v after its context ended; exiting\n", name, exitGrace)
		os.Exit(3)
	}()
	if err := fn(ctx, &Child{name: name, out: os.Stdout}); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: child %q: %v\n", name, err)
		return 1
	}
	return 0
}
