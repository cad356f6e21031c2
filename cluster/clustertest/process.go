package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrExited means the child exited before it reported the value waited for.
var ErrExited = errors.New("clustertest: child exited")

// Process is a running child.
type Process struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	values  map[string]string
	changed chan struct{} // closed and replaced at every Set

	done    chan struct{} // closed when the child has exited and its output is read
	waitErr error
	stopMu  sync.Mutex

	allowRace bool // AllowRaceEnv was given: race reports are logged, not failures
}

// AllowRaceEnv, given to Start as AllowRaceEnv+"=1", makes the child's data
// race reports log lines instead of test failures, and its race-detector exit
// status 0. It is for tests that knowingly drive a race inside a dependency
// (protoactor remote shuts down racily when peers stop at the same moment);
// the reports still appear in the log.
const AllowRaceEnv = "BOURSE_CLUSTERTEST_ALLOW_RACE"

// Start starts child (a ChildFunc registered with Main in the test binary's
// TestMain) in a new process, with the current environment plus env
// ("KEY=value" each). The child's output goes to t.Log, one line at a time,
// prefixed with its name and pid. A cleanup registered on t kills the child
// and waits for it, so the test never leaves it behind.
func Start(t testing.TB, child string, env ...string) *Process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	// -test.run=^$: if TestMain does not call Main, the child runs no test.
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(childEnviron(), env...), childEnv+"="+child)
	p := &Process{name: child, cmd: cmd, values: map[string]string{}, changed: make(chan struct{}), done: make(chan struct{})}
	if slices.Contains(env, AllowRaceEnv+"=1") {
		p.allowRace = true
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0 exitcode=0")
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("clustertest: start child %q: %v", child, err)
	}
	prefix := fmt.Sprintf("[%s %d] ", child, cmd.Process.Pid)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.read(t, prefix, stdout, true) }()
	go func() { defer readers.Done(); p.read(t, prefix, stderr, false) }()
	go func() {
		readers.Wait() // exec: all reads must be done before Wait
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			t.Errorf("clustertest: %v", err)
		}
	})
	return p
}

// read consumes one output stream of the child until it closes.
func (p *Process) read(t testing.TB, prefix string, r io.Reader, values bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, setPrefix); values && ok {
			var kv struct{ K, V string }
			if err := json.Unmarshal([]byte(rest), &kv); err == nil {
				p.set(kv.K, kv.V)
				continue
			}
		}
		if strings.Contains(line, "WARNING: DATA RACE") && !p.allowRace {
			// A child built with -race exits with status 66 at the end
			// only; fail the test as soon as it reports.
			t.Errorf("%sdata race in child process (its report follows in the log)", prefix)
		}
		t.Log(prefix + line)
	}
	_, _ = io.Copy(io.Discard, r) // after a too-long line: drain, or the child blocks
}

func (p *Process) set(k, v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.values[k] = v
	close(p.changed)
	p.changed = make(chan struct{})
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the child exited (nil for status 0; see exec.Cmd.Wait),
// once Done is closed; nil before.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Value waits until the child has reported key and returns the value, or
// fails when ctx ends or the child exits first (ErrExited).
func (p *Process) Value(ctx context.Context, key string) (string, error) {
	return p.Await(ctx, key, nil)
}

// Await waits until the child reports a value under key for which ok returns
// true (nil ok accepts any value), and returns it. It fails when ctx ends or
// the child exits first (ErrExited).
func (p *Process) Await(ctx context.Context, key string, ok func(string) bool) (string, error) {
	for {
		p.mu.Lock()
		v, has := p.values[key]
		changed := p.changed
		p.mu.Unlock()
		if has && (ok == nil || ok(v)) {
			return v, nil
		}
		select {
		case <-changed:
		case <-p.done:
			return "", fmt.Errorf("%w: %q waiting for %q (last value %q): %v", ErrExited, p.name, key, v, p.waitErr)
		case <-ctx.Done():
			return "", fmt.Errorf("clustertest: child %q: waiting for %q (last value %q): %w", p.name, key, v, ctx.Err())
		}
	}
}

// Stop asks the child to stop (it closes the child's stdin, which cancels its
// function's context) and waits until it exits or ctx ends; then it kills
// it. It returns the child's exit error (nil for status 0). Stop and Kill may
// be called many times and together.
func (p *Process) Stop(ctx context.Context) error {
	p.stopMu.Lock()
	_ = p.stdin.Close()
	p.stopMu.Unlock()
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		_ = p.Kill()
		return fmt.Errorf("clustertest: child %q did not stop: %w", p.name, ctx.Err())
	}
}

// Signal sends sig to the child: syscall.SIGSTOP freezes it (its sockets
// stay open, it sends nothing: a hung process), syscall.SIGCONT resumes it.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("clustertest: signal child %q: %v", p.name, err)
	}
	return nil
}

// Kill kills the child with SIGKILL (no cleanup runs in it: as kill -9) and
// waits until it has exited. It returns nil when the child is gone, whether
// it was killed or had exited already.
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("clustertest: kill child %q: %v", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("clustertest: child %q still running 10 s after SIGKILL", p.name)
	}
}

// childEnviron is the environment of a child: the current one, and, unless
// GORACE is set, GORACE=atexit_sleep_ms=0: a process built with -race sleeps
// 1 s before it exits by default, which would slow every Stop and Kill.
func childEnviron() []string {
	env := os.Environ()
	if _, ok := os.LookupEnv("GORACE"); !ok {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return env
}
