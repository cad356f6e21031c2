package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/internal/childproc"
)

// ErrExited means the child exited before it reported the value waited for.
var ErrExited = errors.New("clustertest: child exited")

// Process is a running child.
type Process struct {
	name string
	p    *childproc.Process

	mu      sync.Mutex
	values  map[string]string
	changed chan struct{} // closed and replaced at every Set

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
	p := &Process{name: child, values: map[string]string{}, changed: make(chan struct{})}
	env = append(slices.Clip(env), childEnv+"="+child)
	if slices.Contains(env, AllowRaceEnv+"=1") {
		p.allowRace = true
		env = append(env, "GORACE=atexit_sleep_ms=0 exitcode=0")
	}
	var err error
	p.p, err = childproc.Start(childproc.Options{
		// -test.run=^$: if TestMain does not call Main, the child runs no test.
		Args:   []string{"-test.run=^$"},
		Env:    env,
		Stdout: func(cp *childproc.Process, line string) { p.read(t, cp, line, true) },
		Stderr: func(cp *childproc.Process, line string) { p.read(t, cp, line, false) },
	})
	if err != nil {
		t.Fatalf("clustertest: start child %q: %v", child, err)
	}
	t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			t.Errorf("clustertest: %v", err)
		}
	})
	return p
}

// read takes one line of the child's output.
func (p *Process) read(t testing.TB, cp *childproc.Process, line string, values bool) {
	prefix := fmt.Sprintf("[%s %d] ", p.name, cp.Pid())
	if rest, ok := strings.CutPrefix(line, setPrefix); values && ok {
		var kv struct{ K, V string }
		if err := json.Unmarshal([]byte(rest), &kv); err == nil {
			p.set(kv.K, kv.V)
			return
		}
	}
	if childproc.IsRaceReport(line) && !p.allowRace {
		// A child built with -race exits with status 66 at the end
		// only; fail the test as soon as it reports.
		t.Errorf("%sdata race in child process (its report follows in the log)", prefix)
	}
	t.Log(prefix + line)
}

func (p *Process) set(k, v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.values[k] = v
	close(p.changed)
	p.changed = make(chan struct{})
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.p.Pid() }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.p.Done() }

// Err returns how the child exited (nil for status 0; see exec.Cmd.Wait),
// once Done is closed; nil before.
func (p *Process) Err() error { return p.p.Err() }

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
		case <-p.p.Done():
			return "", fmt.Errorf("%w: %q waiting for %q (last value %q): %v", ErrExited, p.name, key, v, p.p.Err())
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
	err := p.p.Stop(ctx)
	if errors.Is(err, childproc.ErrNotStopped) {
		return fmt.Errorf("clustertest: child %q did not stop: %w", p.name, ctx.Err())
	}
	return err
}

// Signal sends sig to the child: syscall.SIGSTOP freezes it (its sockets
// stay open, it sends nothing: a hung process), syscall.SIGCONT resumes it.
func (p *Process) Signal(sig os.Signal) error {
	if err := p.p.Signal(sig); err != nil {
		return fmt.Errorf("clustertest: signal child %q: %v", p.name, err)
	}
	return nil
}

// Kill kills the child with SIGKILL (no cleanup runs in it: as kill -9) and
// waits until it has exited. It returns nil when the child is gone, whether
// it was killed or had exited already.
func (p *Process) Kill() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch err := p.p.Kill(ctx); {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("clustertest: child %q still running 10 s after SIGKILL", p.name)
	default:
		return fmt.Errorf("clustertest: kill child %q: %v", p.name, err)
	}
}
