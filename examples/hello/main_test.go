package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bourse-go/bourse/internal/leakcheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// TestRun checks the program's exact output.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := "hello, world\nsubscriber got news.markets.open\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}
