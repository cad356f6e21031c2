package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bourse-go/bourse/internal/childproc"
)

// proc is a child process as the parent sees it.
type proc struct {
	name string
	p    *childproc.Process
	addr string // its node's address, once started

	mu      sync.Mutex
	nextID  int
	pending map[int]chan message

	addrCh chan string    // the "address" event
	events chan<- message // "done" events go there (nil: dropped)
	quit   <-chan struct{}
}

// startProc starts a child node named name and waits until it reports its
// address. env adds variables. events receives its "done" events until quit
// is closed.
func startProc(ctx context.Context, name string, env []string, events chan<- message, quit <-chan struct{}) (*proc, error) {
	pr := &proc{name: name, pending: map[int]chan message{}, addrCh: make(chan string, 1), events: events, quit: quit}
	var err error
	pr.p, err = childproc.Start(childproc.Options{
		// -test.run=^$ makes a test binary that is not a bench (its TestMain
		// does not know childEnv) run nothing; the bench's own binary
		// ignores it, as it reads no flag in a child.
		Args:   []string{"-test.run=^$"},
		Env:    append(slices.Clip(env), childEnv+"="+name),
		Stdout: pr.read,
		// Stderr nil: the child's logs go to ours.
	})
	if err != nil {
		return nil, fmt.Errorf("start child %s: %w", name, err)
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case a := <-pr.addrCh:
		pr.addr = a
		return pr, nil
	case <-pr.p.Done():
		return nil, fmt.Errorf("child %s exited before it started its node: %v", name, pr.p.Err())
	case <-timer.C:
		pr.stop(time.Second)
		return nil, fmt.Errorf("child %s did not start its node in 30 s", name)
	case <-ctx.Done():
		pr.stop(time.Second)
		return nil, ctx.Err()
	}
}

// read takes one line of the child's stdout.
func (p *proc) read(_ *childproc.Process, text string) {
	line, ok := strings.CutPrefix(text, replyPrefix)
	var m message
	if !ok || json.Unmarshal([]byte(line), &m) != nil {
		fmt.Fprintf(os.Stderr, "[%s] %s\n", p.name, text)
		return
	}
	switch {
	case m.Event == "address":
		p.addrCh <- m.Result
	case m.Event == "done":
		if p.events != nil {
			select {
			case p.events <- m:
			case <-p.quit:
			}
		}
	default:
		p.mu.Lock()
		ch := p.pending[m.ID]
		delete(p.pending, m.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends a command and waits for its answer.
func (p *proc) call(ctx context.Context, cmd string, args ...string) (string, error) {
	ch := make(chan message, 1)
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.pending[id] = ch
	p.mu.Unlock()
	b, _ := json.Marshal(command{ID: id, Cmd: cmd, Args: args}) // plain fields always marshal
	if err := p.p.Send(ctx, string(b)); err != nil {
		return "", fmt.Errorf("child %s: %s: %w", p.name, cmd, err)
	}
	select {
	case m := <-ch:
		if m.Error != "" {
			return "", fmt.Errorf("child %s: %s: %s", p.name, cmd, m.Error)
		}
		return m.Result, nil
	case <-p.p.Done():
		return "", fmt.Errorf("child %s exited during %s: %v", p.name, cmd, p.p.Err())
	case <-ctx.Done():
		return "", fmt.Errorf("child %s: %s: %w", p.name, cmd, ctx.Err())
	}
}

// cpu returns the CPU the child has used.
func (p *proc) cpu(ctx context.Context) (time.Duration, error) {
	s, err := p.call(ctx, "cpu")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	return time.Duration(ns), err
}

// stop closes the child's stdin, which makes it stop its node and exit, and
// waits for it for grace; then it kills it. It returns how the child exited
// when that was not status 0.
func (p *proc) stop(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := p.p.Stop(ctx)
	switch {
	case errors.Is(err, childproc.ErrNotStopped):
		return fmt.Errorf("child %s did not stop within %v; killed", p.name, grace)
	case err != nil:
		return fmt.Errorf("child %s: %w", p.name, err)
	}
	return nil
}
