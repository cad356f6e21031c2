package clustertest

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/bourse-go/bourse/internal/childproc"
	"go.uber.org/goleak"
)

// isolatedEnv names the test an isolated process runs.
const isolatedEnv = "BOURSE_CLUSTERTEST_ISOLATED"

// Isolate runs the calling test in a process of its own. Called from the
// test process that `go test` started, it runs the test binary again with
// -test.run selecting only t (subtests included), copies that process's
// output into t's log, fails t if the test fails there, and returns false:
// the caller must return at once. Called in that process, it returns true and
// the test body runs.
//
// Use it for tests that start a cluster.Node in the test process. protoactor
// remote's Start writes grpc's global logger (grpclog.SetLoggerV2 at
// remote/server.go:61 of protoactor-go v0.0.0-20240822202345-3c0e61ca19c9)
// while grpc goroutines of any node started before in the same process,
// even one stopped since, may read it: the race detector
// reports every second node of a process. One node per process is how bourse
// runs anyway; more nodes go in child processes (Start).
//
// The isolated process exits at once if the parent dies: a goroutine watches
// for it until the process ends, which goroutine-leak checks must ignore
// (LeakOptions). Its own TestMain runs, so its goroutine-leak check covers the
// test alone.
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(isolatedEnv) == t.Name() {
		go watchParent()
		return true
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(exe, "-test.run="+strings.Join(parts, "/"), "-test.v=true", "-test.count=1")
	cmd.Env = append(childproc.Environ(), isolatedEnv+"="+t.Name())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	cmd.Stderr = cmd.Stdout // one stream keeps the order of the log
	if err := cmd.Start(); err != nil {
		t.Fatalf("clustertest: isolate %s: %v", t.Name(), err)
	}
	var skipped bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "--- SKIP: "+t.Name()+" ") {
				skipped = true
			}
			t.Log("[isolated] " + line)
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clustertest: isolated %s failed: %v", t.Name(), err)
	}
	if skipped {
		t.Skip("skipped in the isolated process")
	}
	return false
}

// watchParent exits the process when the parent dies: the parent holds our
// stdin open and never writes to it.
func watchParent() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

// LeakOptions are the goleak options a test binary using Isolate needs: they
// ignore the goroutine that watches the parent of an isolated process.
func LeakOptions() []goleak.Option {
	return []goleak.Option{goleak.IgnoreAnyFunction("github.com/bourse-go/bourse/cluster/clustertest.watchParent")}
}
