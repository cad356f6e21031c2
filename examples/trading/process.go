package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// This file runs this program's binary again as a node process and talks to
// it over its standard streams: the parent writes command lines to the
// child's stdin (send) and gets each line the child writes to its stdout and
// stderr from a goroutine per stream. The child's stdin stays open until
// stop: a child that exits when it reads EOF never outlives its parent, even
// one killed with SIGKILL. (bourse's bench and tests share a fuller version
// of it; this one is the example's own, so that the example imports nothing
// but bourse's public packages.)

// errNotStopped means the child did not exit before stop's context ended,
// and stop killed it.
var errNotStopped = errors.New("child did not stop in time; killed")

// killWait bounds how long stop waits for a child it has killed: SIGKILL
// ends the process at once, but its output pipes stay open as long as a
// process it started holds them.
const killWait = 10 * time.Second

// procOptions configure a child process.
type procOptions struct {
	args []string // arguments, after the program name
	env  []string // "KEY=value" each, added to this process's environment

	// stdout and stderr get each line the child writes to that stream,
	// without its newline, one line at a time from a goroutine of their
	// own. The reading stops at a line longer than maxLine (the rest of the
	// stream is discarded, so that the child never blocks).
	stdout, stderr func(p *proc, line string)
	tail           int // how many of the last stderr lines tailLines keeps
	maxLine        int // the longest line read
}

// proc is a running child process.
type proc struct {
	cmd   *exec.Cmd
	stdin *os.File // an *os.File, not exec's pipe, for its write deadline (send)

	wmu sync.Mutex // serializes sends: each sets the write deadline

	mu      sync.Mutex
	tail    []string
	maxTail int

	done    chan struct{} // closed once the child has exited and its output is read
	waitErr error
}

// startProc starts this binary (os.Executable) again as a child process.
// The caller must end it with stop or kill: until then it holds the child's
// stdin open.
func startProc(opts procOptions) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, opts.args...)
	cmd.Env = append(os.Environ(), opts.env...)
	p := &proc{cmd: cmd, maxTail: opts.tail, done: make(chan struct{})}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin = stdinR
	p.stdin = stdinW
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		var stderr io.Reader
		if stderr, err = cmd.StderrPipe(); err == nil {
			err = cmd.Start() // on failure, os/exec closes both pipes
		}
		if err == nil {
			stdinR.Close() // the child has its copy
			p.readAll(stdout, stderr, opts)
			return p, nil
		}
	}
	stdinR.Close()
	stdinW.Close()
	return nil, err
}

// readAll reads the child's stdout and stderr until they close, then waits
// for the child and closes p.done.
func (p *proc) readAll(stdout, stderr io.Reader, opts procOptions) {
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		p.read(stdout, opts.stdout, false, opts.maxLine)
	}()
	go func() {
		defer readers.Done()
		p.read(stderr, opts.stderr, true, opts.maxLine)
	}()
	go func() {
		readers.Wait() // os/exec: read everything before Wait
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
}

// read consumes one output stream of the child until it closes.
func (p *proc) read(r io.Reader, handle func(*proc, string), tail bool, maxLine int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, min(64<<10, maxLine)), maxLine)
	for sc.Scan() {
		line := sc.Text()
		if tail {
			p.note(line)
		}
		handle(p, line)
	}
	_, _ = io.Copy(io.Discard, r) // after a line too long: drain, or the child blocks
}

// send writes line and a newline to the child's stdin. It blocks while the
// pipe is full (the child does not read), until ctx ends. It is safe for
// concurrent use.
func (p *proc) send(ctx context.Context, line string) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	// A deadline in the past ends a pending write at once.
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = p.stdin.SetWriteDeadline(time.Now())
		close(cancelled)
	})
	_, err := io.WriteString(p.stdin, line+"\n")
	if !stop() {
		<-cancelled // clear the deadline only once it has been set
		_ = p.stdin.SetWriteDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ctx.Err()
		}
	}
	return err
}

// tailLines returns the last lines the child wrote to its stderr, with the
// parent's notes among them, oldest first.
func (p *proc) tailLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// note adds line to the tail as if the child had written it to stderr: the
// parent's remarks on the child's output, such as a line it could not parse.
func (p *proc) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maxTail <= 0 {
		return
	}
	p.tail = append(p.tail, line)
	if len(p.tail) > p.maxTail {
		p.tail = p.tail[1:]
	}
}

// exited is closed when the child has exited and its output is read.
func (p *proc) exited() <-chan struct{} { return p.done }

// exitErr returns how the child exited (nil for status 0) once exited is
// closed; nil before.
func (p *proc) exitErr() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// stop closes the child's stdin, which tells it to stop, and waits until it
// exits or ctx ends; then it kills it, and waits for that too (at most
// killWait). It returns how the child exited, or, when ctx ended first, an
// error that wraps errNotStopped and ctx.Err().
func (p *proc) stop(ctx context.Context) error {
	_ = p.stdin.Close() // a second Close fails, harmlessly
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
	}
	select {
	case <-p.done: // it exited as ctx ended
		return p.waitErr
	default:
	}
	kctx, cancel := context.WithTimeout(context.Background(), killWait)
	defer cancel()
	notStopped := fmt.Errorf("%w: %w", errNotStopped, ctx.Err())
	if err := p.kill(kctx); err != nil {
		return errors.Join(notStopped, err)
	}
	return notStopped
}

// kill kills the child with SIGKILL (as a crash would: no cleanup runs in
// it) and waits until it has exited and its output is read, or ctx ends.
func (p *proc) kill(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isRaceReport reports whether line starts a report of the race detector,
// which a child built with -race writes to its stderr (it exits with status
// 66 only at its end).
func isRaceReport(line string) bool { return strings.Contains(line, "WARNING: DATA RACE") }
