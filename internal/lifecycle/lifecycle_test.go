package lifecycle

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOnce(t *testing.T) {
	errFirst := errors.New("first")
	tests := []struct {
		name string
		f    func() error
		want error
	}{
		{"nil result", func() error { return nil }, nil},
		{"error result", func() error { return errFirst }, errFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Once
			var calls atomic.Int32
			f := func() error { calls.Add(1); return tt.f() }
			for i := range 3 {
				if err := o.Do(context.Background(), f); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
					t.Fatalf("call %d: %v, want %v", i, err, tt.want)
				}
			}
			if calls.Load() != 1 {
				t.Fatalf("f ran %d times", calls.Load())
			}
		})
	}
}

// A caller that comes while the first call runs waits for its result, or
// gives up when its own context ends.
func TestOnceConcurrentCaller(t *testing.T) {
	var o Once
	release, running := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- o.Do(context.Background(), func() error { close(running); <-release; return nil })
	}()
	<-running
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := o.Do(ctx, func() error { t.Error("ran twice"); return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("concurrent call = %v, want DeadlineExceeded", err)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- o.Do(context.Background(), func() error { return errors.New("ran twice") }) }()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; err != nil {
		t.Fatalf("waiting call = %v, want the first call's nil", err)
	}
	// Once done, the result comes at once, even with an ended context.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := o.Do(ctx, func() error { return errors.New("ran twice") }); err != nil {
		t.Fatalf("later call = %v", err)
	}
}

func TestGroup(t *testing.T) {
	var g Group
	if err := g.Wait(context.Background()); err != nil {
		t.Fatalf("empty group: %v", err)
	}
	release := make(chan struct{})
	var ran atomic.Int32
	for range 3 {
		g.Go(func() { <-release; ran.Add(1) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := g.Wait(context.Background()); err != nil || ran.Load() != 3 {
		t.Fatalf("Wait = %v, ran %d of 3", err, ran.Load())
	}
	// The group can be used again.
	g.Go(func() {})
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}
