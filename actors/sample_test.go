package actors_test

import (
	"context"
	"maps"
	"slices"
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
	seq                     map[exchange.Operation][]int // each call's weight, 0 when untimed, in order
	failed                  int
}

func newSampleLog() *sampleLog {
	return &sampleLog{timed: map[exchange.Operation]int{}, untimed: map[exchange.Operation]int{}, weights: map[exchange.Operation]int{},
		seq: map[exchange.Operation][]int{}}
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
	b.l.seq[op] = append(b.l.seq[op], weight)
	if err != nil {
		b.l.failed++
	}
}
func (b boundSamples) Untimed(op exchange.Operation, err error) {
	b.l.mu.Lock()
	defer b.l.mu.Unlock()
	b.l.untimed[op]++
	b.l.seq[op] = append(b.l.seq[op], 0)
	if err != nil {
		b.l.failed++
	}
}

// A Service times its first call, then one in exchange.SampleOneIn while
// its calls are faster than exchange.SampleBelow and every one while they
// are not, and tells of every other; so does a subscriber function. A
// timed call stands for the calls since the last timed one.
//
// A call without a pause may still take SampleBelow or more on a loaded
// machine, and then the next call is timed too: the fast case checks what
// holds whatever the calls took (every call heard once, in order; each
// timed call's weight counts the calls since the one before; no more than
// SampleOneIn calls between two timed), and TestProcessSample the exact
// schedule with given durations.
func TestHandlersSampleFastCalls(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause time.Duration // of the handler and the subscriber function
		exact bool          // every call is timed (the pause is SampleBelow or more)
	}{
		{"fast", 0, false},
		{"slow", 2 * exchange.SampleBelow, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := runSampled(t, tc.pause)
			for _, op := range []exchange.Operation{exchange.OpProcess, exchange.OpDeliver} {
				seq := log.seq[op]
				if len(seq) != n {
					t.Errorf("%s: heard %d calls, want %d: %v", op, len(seq), n, seq)
					continue
				}
				last := -1 // index of the last timed call
				for i, w := range seq {
					switch {
					case w == 0 && tc.exact:
						t.Errorf("%s: call %d not timed, want every call timed: %v", op, i, seq)
					case w == 0 && i-last >= exchange.SampleOneIn:
						t.Errorf("%s: call %d not timed, %d calls after the last timed one: %v", op, i, i-last, seq)
					case w != 0 && w != i-last:
						t.Errorf("%s: call %d timed with weight %d, want %d (the calls since the last timed one): %v", op, i, w, i-last, seq)
					}
					if w != 0 {
						last = i
					}
				}
				// Sampling skips fast calls: only if every one of the n
				// calls took SampleBelow or more would all be timed.
				if !tc.exact && !slices.Contains(seq, 0) {
					t.Errorf("%s: every call timed, want fast ones sampled: %v", op, seq)
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
	seq := map[exchange.Operation][]int{}
	for op, ws := range log.seq {
		seq[op] = slices.Clone(ws)
	}
	return &sampleLog{timed: maps.Clone(log.timed), untimed: maps.Clone(log.untimed), weights: maps.Clone(log.weights), seq: seq, failed: log.failed}
}
