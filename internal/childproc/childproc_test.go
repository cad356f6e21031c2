package childproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/internal/leakcheck"
	"go.uber.org/goleak"
)

// modeEnv makes the test binary, started again by a test, a child that
// behaves as the mode it names (see child).
const modeEnv = "CHILDPROC_TEST_MODE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(modeEnv); mode != "" {
		os.Exit(child(mode))
	}
	goleak.VerifyTestMain(m, leakcheck.Options()...)
}

// child is the body of a child process; it returns the exit status.
func child(mode string) int {
	switch mode {
	case "echo": // echoes stdin lines to stdout until EOF
		for i := range 5 {
			fmt.Fprintf(os.Stderr, "log %d\n", i+1)
		}
		fmt.Println("ready")
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Println("echo: " + sc.Text())
		}
		return 0
	case "deaf": // reads nothing and never exits by itself
		fmt.Println("ready")
		// Not select{}: with no other goroutine, the runtime would call
		// that a deadlock and exit, and the parent's writes would fail
		// with a broken pipe instead of blocking.
		for {
			time.Sleep(time.Hour)
		}
	case "fail":
		fmt.Fprintln(os.Stderr, "failing")
		return 3
	case "long": // a line longer than the parent reads, then more
		fmt.Println("short")
		fmt.Println(strings.Repeat("x", 4096))
		fmt.Println("after")
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
	return 2
}

// lines collects what a child writes to one stream.
type lines chan string

func (l lines) handle(_ *Process, line string) { l <- line }

// next returns the next line, or fails t after a while.
func (l lines) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-l:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no line from the child in 10 s")
		return ""
	}
}

func start(t *testing.T, mode string, opts Options) *Process {
	t.Helper()
	opts.Env = append(opts.Env, modeEnv+"="+mode)
	p, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill(context.Background()) })
	return p
}

// startDeaf starts a child that neither reads its stdin nor exits by itself,
// and waits until it runs.
func startDeaf(t *testing.T) *Process {
	t.Helper()
	out := make(lines, 1)
	p := start(t, "deaf", Options{Stdout: out.handle})
	out.next(t)
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A child answers lines on stdin, its stderr's tail is kept, and Stop ends
// it cleanly, as often as it is called, leaving no goroutine behind.
func TestSendAndStop(t *testing.T) {
	out := make(lines, 10)
	var logs []string
	p := start(t, "echo", Options{Stdout: out.handle, Stderr: func(_ *Process, l string) { logs = append(logs, l) }, Tail: 3})
	ctx := testCtx(t)
	if got := out.next(t); got != "ready" {
		t.Fatalf("first line %q, want ready", got)
	}
	for _, s := range []string{"a", "b c"} {
		if err := p.Send(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got, want := out.next(t), "echo: "+s; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	for range 2 {
		if err := p.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	if err := p.Kill(ctx); err != nil {
		t.Errorf("Kill after Stop: %v", err)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err: %v", err)
	}
	if err := p.Send(ctx, "late"); err == nil {
		t.Error("Send after Stop succeeded")
	}
	// The Stderr handler ran in the reader, which is done once Stop returns.
	if want := []string{"log 1", "log 2", "log 3", "log 4", "log 5"}; !slices.Equal(logs, want) {
		t.Errorf("stderr %q, want %q", logs, want)
	}
	if got, want := p.Tail(), []string{"log 3", "log 4", "log 5"}; !slices.Equal(got, want) {
		t.Errorf("Tail %q, want %q", got, want)
	}
	p.Note("a note")
	if got, want := p.Tail(), []string{"log 4", "log 5", "a note"}; !slices.Equal(got, want) {
		t.Errorf("Tail after Note %q, want %q", got, want)
	}
	goleak.VerifyNone(t, leakcheck.Options()...)
}

// A child that ignores EOF on stdin is killed when Stop's context ends.
func TestStopKillsAtDeadline(t *testing.T) {
	p := startDeaf(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := p.Stop(ctx)
	if !errors.Is(err, ErrNotStopped) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop: %v; want ErrNotStopped and the deadline", err)
	}
	if !killed(p.Err()) {
		t.Errorf("Err %v, want killed", p.Err())
	}
	goleak.VerifyNone(t, leakcheck.Options()...)
}

// Kill ends a child at once; Kill and Stop after it report it gone.
func TestKill(t *testing.T) {
	out := make(lines, 10)
	p := start(t, "echo", Options{Stdout: out.handle, Stderr: func(*Process, string) {}})
	out.next(t)
	ctx := testCtx(t)
	for range 2 {
		if err := p.Kill(ctx); err != nil {
			t.Fatalf("Kill: %v", err)
		}
	}
	if err := p.Stop(ctx); !killed(err) {
		t.Errorf("Stop after Kill: %v, want killed", err)
	}
	goleak.VerifyNone(t, leakcheck.Options()...)
}

func killed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Error(), "killed")
}

// A child's exit status is reported by Err and Stop, and its stderr is
// copied line by line.
func TestExitStatus(t *testing.T) {
	errs := make(lines, 10)
	p := start(t, "fail", Options{Stderr: errs.handle, Tail: 5})
	<-p.Done()
	var ee *exec.ExitError
	if err := p.Err(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Err: %v, want exit status 3", err)
	}
	if err := p.Stop(testCtx(t)); err != p.Err() {
		t.Errorf("Stop: %v, want %v", err, p.Err())
	}
	if got := errs.next(t); got != "failing" {
		t.Errorf("stderr %q", got)
	}
	if got := p.Tail(); !slices.Equal(got, []string{"failing"}) {
		t.Errorf("Tail %q", got)
	}
}

// Send gives up when its context ends while the child does not read.
func TestSendBlocked(t *testing.T) {
	p := startDeaf(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	big := strings.Repeat("x", 1<<20) // more than a pipe holds
	if err := p.Send(ctx, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send: %v, want the deadline", err)
	}
	if err := p.Send(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send with an ended context: %v", err)
	}
	if err := p.Kill(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, leakcheck.Options()...)
}

// A line longer than MaxLine ends the reading, not the child.
func TestLongLine(t *testing.T) {
	out := make(lines, 10)
	p := start(t, "long", Options{Stdout: out.handle, MaxLine: 1024})
	if err := p.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []string
	for l := range out {
		got = append(got, l)
	}
	if !slices.Equal(got, []string{"short"}) {
		t.Errorf("lines %q, want only the one before the long line", got)
	}
}

// A child started under a prefix command that execs it (env here, as ip
// netns exec in the chaos suite) is the binary itself: Pid and Kill reach it.
func TestPrefix(t *testing.T) {
	envPath, err := exec.LookPath("env")
	if err != nil {
		t.Skip("no env command")
	}
	out := make(lines, 10)
	p := start(t, "echo", Options{Stdout: out.handle, Prefix: []string{envPath, "CHILDPROC_TEST_PREFIX=1"}})
	if got := out.next(t); got != "ready" {
		t.Fatalf("first line %q, want ready", got)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if self, _ := os.Executable(); exe != self {
		t.Errorf("child runs %s, want this binary %s", exe, self)
	}
	if err := p.Kill(testCtx(t)); err != nil {
		t.Fatalf("Kill: %v", err)
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("GORACE", "halt_on_error=1")
	if env := Environ(); !slices.Contains(env, "GORACE=halt_on_error=1") || slices.Contains(env, "GORACE=atexit_sleep_ms=0") {
		t.Errorf("GORACE set: Environ has %q", slices.DeleteFunc(env, func(s string) bool { return !strings.HasPrefix(s, "GORACE=") }))
	}
	os.Unsetenv("GORACE") // t.Setenv restores it
	if env := Environ(); !slices.Contains(env, "GORACE=atexit_sleep_ms=0") {
		t.Error("GORACE unset: Environ lacks GORACE=atexit_sleep_ms=0")
	}
}

func TestIsRaceReport(t *testing.T) {
	if !IsRaceReport("==================\nWARNING: DATA RACE") || IsRaceReport("no race here") {
		t.Error("IsRaceReport is wrong")
	}
}
