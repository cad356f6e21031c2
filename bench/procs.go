package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// proc is a child process as the parent sees it.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // its node's address, once started

	wmu   sync.Mutex // guards stdin writes and Close
	stdin io.WriteCloser

	mu      sync.Mutex
	nextID  int
	pending map[int]chan message

	events chan<- message // "done" events go there (nil: dropped)
	quit   <-chan struct{}

	done    chan struct{} // closed when the child has exited and its output is read
	waitErr error
}

// startProc starts a child node named name and waits until it reports its
// address. env adds variables. events receives its "done" events until quit
// is closed.
func startProc(ctx context.Context, name string, env []string, events chan<- message, quit <-chan struct{}) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// -test.run=^$ makes a test binary that is not a bench (its TestMain does
	// not know childEnv) run nothing; the bench's own binary ignores it, as it
	// reads no flag in a child.
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+name)
	if _, ok := os.LookupEnv("GORACE"); !ok {
		// A -race binary sleeps 1 s at exit by default.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	cmd.Stderr = os.Stderr
	p := &proc{name: name, cmd: cmd, pending: map[int]chan message{}, events: events, quit: quit, done: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child %s: %w", name, err)
	}
	addr := make(chan string, 1)
	go p.read(stdout, addr)
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case a := <-addr:
		p.addr = a
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("child %s exited before it started its node: %v", name, p.waitErr)
	case <-timer.C:
		p.stop(time.Second)
		return nil, fmt.Errorf("child %s did not start its node in 30 s", name)
	case <-ctx.Done():
		p.stop(time.Second)
		return nil, ctx.Err()
	}
}

// read consumes the child's stdout until it closes, then waits for the
// process.
func (p *proc) read(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), replyPrefix)
		var m message
		if !ok || json.Unmarshal([]byte(line), &m) != nil {
			fmt.Fprintf(os.Stderr, "[%s] %s\n", p.name, sc.Text())
			continue
		}
		switch {
		case m.Event == "address":
			addr <- m.Result
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
	_, _ = io.Copy(io.Discard, r) // after a too-long line: drain, or the child blocks
	p.waitErr = p.cmd.Wait()
	close(p.done)
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
	p.wmu.Lock()
	_, err := p.stdin.Write(append(b, '\n'))
	p.wmu.Unlock()
	if err != nil {
		return "", fmt.Errorf("child %s: %s: %w", p.name, cmd, err)
	}
	select {
	case m := <-ch:
		if m.Error != "" {
			return "", fmt.Errorf("child %s: %s: %s", p.name, cmd, m.Error)
		}
		return m.Result, nil
	case <-p.done:
		return "", fmt.Errorf("child %s exited during %s: %v", p.name, cmd, p.waitErr)
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
	p.wmu.Lock()
	_ = p.stdin.Close()
	p.wmu.Unlock()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		if p.waitErr != nil {
			return fmt.Errorf("child %s: %w", p.name, p.waitErr)
		}
		return nil
	case <-timer.C:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill child %s: %w", p.name, err)
	}
	<-p.done
	return fmt.Errorf("child %s did not stop within %v; killed", p.name, grace)
}
