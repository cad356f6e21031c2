package actors

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The lazy deadline context behaves as context.WithDeadline would, whether
// or not Done is asked for.
func TestDeadlineCtx(t *testing.T) {
	d := time.Now().Add(30 * time.Millisecond)
	lazy := newDeadlineCtx(context.Background(), d)
	defer lazy.release()
	if got, ok := lazy.Deadline(); !ok || !got.Equal(d) {
		t.Fatalf("Deadline() = %v, %v", got, ok)
	}
	if lazy.Err() != nil {
		t.Fatalf("Err() before the deadline = %v", lazy.Err())
	}
	time.Sleep(40 * time.Millisecond)
	if !errors.Is(lazy.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() after the deadline, without Done = %v", lazy.Err())
	}
	select {
	case <-lazy.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed after the deadline")
	}

	// Asked for Done first: it closes at the deadline.
	watched := newDeadlineCtx(context.Background(), time.Now().Add(20*time.Millisecond))
	defer watched.release()
	select {
	case <-watched.Done():
		if !errors.Is(watched.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v", watched.Err())
		}
	case <-time.After(time.Second):
		t.Fatal("Done not closed at the deadline")
	}

	// A canceled parent ends it, and an earlier parent deadline wins.
	parent, cancel := context.WithTimeout(context.Background(), time.Hour)
	child := newDeadlineCtx(parent, time.Now().Add(2*time.Hour))
	if pd, _ := parent.Deadline(); func() bool { cd, _ := child.Deadline(); return !cd.Equal(pd) }() {
		t.Error("the parent's earlier deadline is not reported")
	}
	cancel()
	if !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("Err() after the parent's cancel = %v", child.Err())
	}
	child.release()
}
