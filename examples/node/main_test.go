package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// One node per test process: a second would make the race detector report
// grpc's global logger (see cluster/clustertest.Isolate).

func TestMain(m *testing.M) {
	// protoactor's dead-letter throttle starts a goroutine on the first
	// dead letter of a period, which ends by itself when the period (1 s)
	// is over: not a leak.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// syncBuffer is a bytes.Buffer the node's log goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The sample file starts a node, which stops when the context ends (as on
// SIGINT).
func TestRunSample(t *testing.T) {
	t.Setenv("BOURSE_NODE_PORT", "0")             // 7101 may be taken
	t.Setenv("BOURSE_DISCOVERY_PROVIDER", "none") // hermetic: no probes to the sample's peers
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-config", "node.yaml"}, &out) }()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "node up") {
		if time.Now().After(deadline) {
			t.Fatalf("no \"node up\" after 10s; log:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return 10s after its context ended")
	}
	log := out.String()
	t.Logf("log:\n%s", log)
	for _, want := range []string{"node up", "node=md-1", "members=md-1@127.0.0.1:", "exchanges=orders,prices,matching", "stopping", "node stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestRunBadFile(t *testing.T) {
	err := run(context.Background(), []string{"-config", "missing.yaml"}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml: cannot read") {
		t.Errorf("run = %v, want a cannot-read error", err)
	}
}
