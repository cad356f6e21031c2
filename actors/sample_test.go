package actors_test

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/exchange"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// sampleLog is a Recorder that binds itself, and counts what it hears of
// handlers and subscriber functions.
type sampleLog struct {
	mu                      sync.Mutex
	timed, untimed, weights map[exchange.Operation]int
	failed                  int
}

func newSampleLog() *sampleLog {
	return &sampleLog{timed: map[exchange.Operation]int{}, untimed: map[exchange.Operation]int{}, weights: map[exchange.Operation]int{}}
}

func (l *sampleLog) Sent(string, exchange.Operation, time.Duration, error)      {}
func (l *sampleLog) Processed(string, exchange.Operation, time.Duration, error) {}
func (l *sampleLog) Bind(string) exchange.ExchangeRecorder                      { return boundSamples{l} }

type boundSamples struct{ l *sampleLog }

func (b boundSamples) Timing(exchange.Operation) int                      { return 1 }
func (b boundSamples) Sent(exchange.Operation, time.Duration, int, error) {}
func (b boundSamples) Processed(op exchange.Operation, d time.Duration, weight int, err error) {
	b.l.mu.Lock()
	defer b.l.mu.Unlock()
	b.l.timed[op]++
	b.l.weights[op] += weight
	if err != nil {
		b.l.failed++
	}
}
func (b boundSamples) Untimed(op exchange.Operation, err error) {
	b.l.mu.Lock()
	defer b.l.mu.Unlock()
	b.l.untimed[op]++
	if err != nil {
		b.l.failed++
	}
}

// A Service times its first call, then one in exchange.SampleOneIn while
// its calls are faster than exchange.SampleBelow and every one while they
// are not, and tells of every other; so does a subscriber function. A
// timed call stands for the calls since the last timed one.
func TestHandlersSampleFastCalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause time.Duration // of the handler and the subscriber function
		// timed calls and the sum of their weights, of n
		timed, weights int
	}{
		// calls 1, 1+SampleOneIn, 1+2*SampleOneIn
		{"fast", 0, 3, 1 + 2*exchange.SampleOneIn},
		{"slow", 2 * exchange.SampleBelow, n, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := runSampled(t, tc.pause)
			for _, op := range []exchange.Operation{exchange.OpProcess, exchange.OpDeliver} {
				if log.timed[op] != tc.timed || log.untimed[op] != n-tc.timed || log.weights[op] != tc.weights {
					t.Errorf("%s: timed %d (weights %d), untimed %d; want %d (%d), %d", op, log.timed[op], log.weights[op], log.untimed[op],
						tc.timed, tc.weights, n-tc.timed)
				}
			}
			if log.failed != 0 {
				t.Errorf("%d failures, want none", log.failed)
			}
		})
	}
}

// n is the number of calls of runSampled.
const n = 2*exchange.SampleOneIn + 3

// runSampled makes n requests of a Service and n publications to a
// subscriber function, each of which pauses for pause, and returns what the
// Recorder heard of them.
func runSampled(t *testing.T, pause time.Duration) *sampleLog {
	log := newSampleLog()
	cfg := actors.DefaultConfig()
	cfg.Recorder = log
	b := newBroker(t, actors.WithConfig(cfg))
	ctx := ctxT(t)
	if err := b.Declare(ctx, actors.Spec{Name: "rr", Kind: actors.ReqResp, Strategy: "round-robin"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Declare(ctx, actors.Spec{Name: "ps", Kind: actors.PubSub}); err != nil {
		t.Fatal(err)
	}
	handler := actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		time.Sleep(pause)
		return r.Payload, nil
	})
	if _, err := b.Serve(ctx, "rr", handler); err != nil {
		t.Fatal(err)
	}
	var got sync.WaitGroup
	got.Add(n)
	if _, err := b.SubscribeFunc(ctx, "ps", "#", func(*actors.Publication) { time.Sleep(pause); got.Done() }); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := b.Request(ctx, "rr", wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "ps", "k", wrapperspb.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	got.Wait()
	// The subscriber's actor tells the recorder after its function returns.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		log.mu.Lock()
		all := log.timed[exchange.OpDeliver]+log.untimed[exchange.OpDeliver] == n
		log.mu.Unlock()
		if all || time.Now().After(end) {
			break
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	return &sampleLog{timed: maps.Clone(log.timed), untimed: maps.Clone(log.untimed), weights: maps.Clone(log.weights), failed: log.failed}
}
