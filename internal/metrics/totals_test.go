package metrics

import (
	"errors"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

func TestTotalsSumsOkAndFailedCalls(t *testing.T) {
	in := New()
	in.Sent("b", exchange.OpRequest, 2*time.Millisecond, nil)
	in.Sent("b", exchange.OpRequest, 4*time.Millisecond, nil)
	in.Sent("b", exchange.OpRequest, time.Second, exchange.ErrTimeout)
	in.Processed("b", exchange.OpProcess, time.Millisecond, errors.New("handler"))
	in.Sent("a", exchange.OpPublish, 100*time.Microsecond, nil)

	got := in.Totals()
	if len(got) != 3 {
		t.Fatalf("Totals: %+v", got)
	}
	if got[0].Exchange != "a" || got[0].Op != exchange.OpPublish || got[0].Calls != 1 || got[0].Failed != 0 {
		t.Fatalf("a: %+v", got[0])
	}
	r := got[1]
	if r.Exchange != "b" || r.Op != exchange.OpRequest || r.Calls != 3 || r.Failed != 1 || r.Sum != time.Second+6*time.Millisecond {
		t.Fatalf("b request: %+v", r)
	}
	var n uint64
	for _, c := range r.Buckets {
		n += c
	}
	if n != 3 {
		t.Fatalf("buckets count %d calls, want 3", n)
	}
	if p := got[2]; p.Op != exchange.OpProcess || p.Calls != 1 || p.Failed != 1 {
		t.Fatalf("b process: %+v", p)
	}
	if len(DurationBounds()) != NumBuckets-1 {
		t.Fatal("bounds and buckets disagree")
	}
}
