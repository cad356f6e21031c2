package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test process is the parent (it starts no node, so the race detector
// sees no grpc global state); its children are this test binary again, in
// the node role.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == roleNode {
		os.Exit(nodeMain(os.Args[1:]))
	}
	// protoactor's dead-letter throttle starts a goroutine on the first
	// dead letter of a period, which ends by itself when the period (1 s)
	// is over: not a leak.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// TestRun runs the whole scenario, shortened, and checks the report.
func TestRun(t *testing.T) {
	// A child built with -race otherwise sleeps 1 s before it exits. Its
	// race reports go to files the test reads (checkRaces), and do not
	// change its exit status: one known race inside protoactor may not
	// fail the example, every other one fails the test.
	races := t.TempDir()
	t.Setenv("GORACE", "atexit_sleep_ms=0 exitcode=0 log_path="+filepath.Join(races, "race"))
	defer checkRaces(t, races)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, logs bytes.Buffer
	err := run(ctx, []string{"-duration=4s", "-sessions=240", "-orders=25", "-rate=40"}, &out, &logs)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\nlogs:\n%s", err, logs.String())
	}
	const dur = `\d+(\.\d+)?[µm]?s`
	for _, want := range []string{
		`(?m)^cluster: n1@127\.0\.0\.1:\d+ \(xnas\), n2@127\.0\.0\.1:\d+ \(bats\), n3@127\.0\.0\.1:\d+ \(arca\), from trading\.yaml; 240 client sessions per node$`,
		// The first node applies the services alone: the engine starts there.
		`(?m)^placed: engine on n1; market-data on n1, n2, n3; books on n1 \(\d\), n2 \(\d\)(, n3 \(\d\))?; desk on n1, n2, n3$`,
		`(?m)^killed n1, the engine's node \(SIGKILL\), at \+2\.\ds$`,
		`(?m)^placed after the kill: engine on n[23]; market-data on n2, n3; books on n2 \(3\), n3 \(3\); desk on n2, n3$`,
		`(?m)^prices: \d+ updates from 3 venue feeds on 36 keys, \d+ deliveries to 720 sessions on 3 nodes; lost on surviving nodes: 0 of the live feeds' \d+; out of order: 0$`,
		`(?m)^prices: n1's feed \(xnas\) published [1-9]\d* updates until its node was killed; the live feeds \(arca, bats\) answered on "quotes"$`,
		`(?m)^prices: network messages per price update: 2\.00 while 2 other nodes had subscribers \(\d+ updates\), 1\.00 while 1 other node had subscribers \(\d+ updates\)$`,
		`(?m)^orders: sent \d+, matched [1-9]\d*, rejected [1-9]\d* \(over the 50000 limit: errors\.Is\(err, actors\.ErrRejected\)\), invalid \d+, retries during the failover \d+, unanswered 0$`,
		`(?m)^sticky: with 6 books, \d+ of \d+ symbols each reached one book, from \d(-\d)? nodes(; with \d books, \d+ of \d+ symbols each reached one book, from \d(-\d)? nodes)*; with 6 books, \d+ of \d+ symbols each reached one book, from \d(-\d)? nodes$`,
		`(?m)^sticky: after the kill \d+ symbols? moved to another book: \d+ off n1's books, \d+ between surviving books$`,
		// Restarts in place: see the example's README.
		`(?m)^engine: one instance, moved from n1 to n[23] after the kill: placed there ` + dur + ` after it, never two at once; restarts in place: \d+$`,
		`(?m)^matching: n1 matched [1-9]\d* orders until it was killed; n[23] led "matching" ` + dur + ` after the kill \(first order matched after ` + dur + `\) and matched [1-9]\d*$`,
		`(?m)^invariants: ok$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks a line matching %s", want)
		}
	}
}

// Bad flags fail before any node starts.
func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-duration=1h"},
		{"-duration=1s"},
		{"-sessions=3"},
		{"-orders=0"},
		{"-rate=-5"},
		{"-bogus"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if err == nil {
			t.Errorf("run(%q) succeeded", args)
			continue
		}
		if out.Len() > 0 || strings.Contains(errOut.String(), "cluster") {
			t.Errorf("run(%q) started something: %s", args, out.String())
		}
	}
}

// checkRaces fails t for every race report the children wrote to dir, but
// the one race inside protoactor remote that nodes stopping at the same
// moment trigger: a dead-letter answer to a peer (remoteDeliver reads
// endpointManager.stopped) while remote shuts down (stop writes it),
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9 remote/endpoint_manager.go
// 105 and 201; cluster/clustertest.AllowRaceEnv allows the same in the
// cluster tests. It is logged, not failed.
func checkRaces(t *testing.T, dir string) {
	files, err := filepath.Glob(filepath.Join(dir, "race.*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, report := range strings.Split(string(b), "WARNING: DATA RACE")[1:] {
			if strings.Contains(report, "(*endpointManager).stop()") && strings.Contains(report, "(*endpointManager).remoteDeliver()") {
				t.Logf("%s: the known race of protoactor remote's shutdown (allowed)", filepath.Base(f))
				continue
			}
			t.Errorf("%s: a data race in a node:%s", filepath.Base(f), report)
		}
	}
}

// With -v, every child's log lines reach errOut from a goroutine of their
// own: errOut needs no lock of its own (the race detector checks it here).
func TestLockedWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &lockedWriter{w: &buf}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = w.Write([]byte("line\n"))
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(buf.String(), "line\n"); got != 400 {
		t.Errorf("%d lines, want 400", got)
	}
}
