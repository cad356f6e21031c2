// Package childproc runs the current binary again as a child process and
// talks to it over its standard streams: the mechanics bourse's bench and
// its multi-process tests (cluster/clustertest) share (examples/trading has a
// copy of its own, so that it imports only public packages).
//
// The parent writes lines to the child's stdin (Send) and gets each line the
// child writes to its stdout and stderr from a goroutine per stream; what the
// lines mean is the caller's protocol. The child's stdin stays open until
// Stop: a child that exits when it reads EOF never outlives its parent, even
// one killed with SIGKILL.
//
// Stop asks the child to stop (it closes its stdin) and kills it with SIGKILL
// when it does not exit in time; Kill kills it at once. Both may be called
// many times and together. When either has returned without error, the
// process has exited, its output is read, and no goroutine of this package is
// left running for it.
package childproc

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

// ErrNotStopped means the child did not exit before Stop's context ended,
// and Stop killed it.
var ErrNotStopped = errors.New("child did not stop in time; killed")

// killWait bounds how long Stop waits for a child it has killed: SIGKILL
// ends the process at once, but its output pipes stay open as long as a
// process it started holds them.
const killWait = 10 * time.Second

// defaultMaxLine is the longest line read when Options.MaxLine is 0.
const defaultMaxLine = 1 << 20

// Options configure a child.
type Options struct {
	Args []string // arguments, after the program name
	Env  []string // "KEY=value" each, added to Environ()

	// Prefix, when not empty, is a command the binary runs under: Start
	// runs Prefix[0] with Prefix[1:], this binary's path and Args. The
	// command should exec the binary (as "ip netns exec NS" does), so that
	// Pid, Signal and Kill reach the binary itself.
	Prefix []string

	// Stdout and Stderr, when not nil, get each line the child writes to
	// that stream, without its newline, one line at a time from a goroutine
	// of their own. When nil, the child writes to this process's stdout or
	// stderr directly. The reading stops at a line longer than MaxLine (the
	// rest of the stream is discarded, so that the child never blocks).
	Stdout, Stderr func(p *Process, line string)
	// Tail is how many of the last lines given to Stderr Tail keeps.
	Tail int
	// MaxLine is the longest line read: 1 MiB when 0.
	MaxLine int
}

// Process is a running child.
type Process struct {
	cmd   *exec.Cmd
	stdin *os.File // an *os.File, not exec's pipe, for its write deadline (Send)

	wmu sync.Mutex // serializes Sends: each sets the write deadline

	mu      sync.Mutex
	tail    []string
	maxTail int

	done    chan struct{} // closed once the child has exited and its output is read
	waitErr error
}

// Environ returns the environment Start gives a child before Options.Env:
// this process's, plus GORACE=atexit_sleep_ms=0 unless GORACE is set: a
// binary built with -race sleeps 1 s before it exits by default, which would
// slow every stop.
func Environ() []string {
	env := os.Environ()
	if _, ok := os.LookupEnv("GORACE"); !ok {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return env
}

// Start starts the current binary (os.Executable) again as a child process
// with opts. The caller must end it with Stop or Kill: until then it holds
// the child's stdin open.
func Start(opts Options) (*Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, opts.Args...)
	if len(opts.Prefix) > 0 {
		args := append(append(append([]string(nil), opts.Prefix[1:]...), exe), opts.Args...)
		cmd = exec.Command(opts.Prefix[0], args...)
	}
	cmd.Env = append(Environ(), opts.Env...)
	p := &Process{cmd: cmd, maxTail: opts.Tail, done: make(chan struct{})}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin = stdinR
	p.stdin = stdinW
	fail := func(err error) (*Process, error) {
		stdinR.Close()
		stdinW.Close()
		return nil, err
	}
	type stream struct {
		r      io.Reader
		handle func(*Process, string)
		tail   bool
	}
	var streams []stream
	if opts.Stdout == nil {
		cmd.Stdout = os.Stdout
	} else {
		r, err := cmd.StdoutPipe()
		if err != nil {
			return fail(err)
		}
		streams = append(streams, stream{r, opts.Stdout, false})
	}
	if opts.Stderr == nil {
		cmd.Stderr = os.Stderr
	} else {
		r, err := cmd.StderrPipe()
		if err != nil {
			return fail(err)
		}
		streams = append(streams, stream{r, opts.Stderr, true})
	}
	if err := cmd.Start(); err != nil {
		return fail(err) // os/exec has closed the stdout and stderr pipes
	}
	stdinR.Close() // the child has its copy
	maxLine := opts.MaxLine
	if maxLine <= 0 {
		maxLine = defaultMaxLine
	}
	var readers sync.WaitGroup
	for _, s := range streams {
		readers.Add(1)
		go func() {
			defer readers.Done()
			p.read(s.r, s.handle, s.tail, maxLine)
		}()
	}
	go func() {
		readers.Wait() // os/exec: read everything before Wait
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// read consumes one output stream of the child until it closes.
func (p *Process) read(r io.Reader, handle func(*Process, string), tail bool, maxLine int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, min(64<<10, maxLine)), maxLine)
	for sc.Scan() {
		line := sc.Text()
		if tail {
			p.Note(line)
		}
		handle(p, line)
	}
	_, _ = io.Copy(io.Discard, r) // after a line too long: drain, or the child blocks
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Send writes line and a newline to the child's stdin. It blocks while the
// pipe is full (the child does not read), until ctx ends; the child may then
// have got part of the line. It is safe for concurrent use.
func (p *Process) Send(ctx context.Context, line string) error {
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

// Tail returns the last lines the child wrote to its stderr (at most
// Options.Tail), with the notes of Note among them, oldest first.
func (p *Process) Tail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// Note adds line to the tail as if the child had written it to stderr: for
// the parent's remarks on the child's output, such as a line it could not
// parse, to be read where the child's own last lines explain a failure.
func (p *Process) Note(line string) {
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

// Done is closed when the child has exited and its output is read.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the child exited (nil for status 0; see exec.Cmd.Wait)
// once Done is closed; nil before.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Signal sends sig to the child.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop closes the child's stdin, which tells it to stop, and waits until it
// exits or ctx ends; then it kills it, and waits for that too (at most 10 s).
// It returns how the child exited (nil for status 0; see exec.Cmd.Wait), or,
// when ctx ended first, an error that wraps ErrNotStopped and ctx.Err().
func (p *Process) Stop(ctx context.Context) error {
	// A second Close fails, harmlessly; a Send blocked on the pipe returns.
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
	}
	select {
	case <-p.done: // it exited as ctx ended: no need to tell otherwise
		return p.waitErr
	default:
	}
	kctx, cancel := context.WithTimeout(context.Background(), killWait)
	defer cancel()
	if err := p.Kill(kctx); err != nil {
		return errors.Join(notStopped(ctx), err)
	}
	return notStopped(ctx)
}

func notStopped(ctx context.Context) error {
	return fmt.Errorf("%w: %w", ErrNotStopped, ctx.Err())
}

// Kill kills the child with SIGKILL (as a crash would: no cleanup runs in
// it) and waits until it has exited and its output is read, or ctx ends. It
// returns nil when the child is gone, whether it was killed or had exited
// already; the error of os.Process.Kill when that fails; ctx.Err() when ctx
// ends first.
func (p *Process) Kill(ctx context.Context) error {
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

// IsRaceReport reports whether line starts a report of the race detector,
// which a child built with -race writes to its stderr: such a child exits
// with status 66 only at its end, so a parent that wants to fail early
// watches for the report.
func IsRaceReport(line string) bool { return strings.Contains(line, "WARNING: DATA RACE") }
