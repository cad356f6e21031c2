package actors_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/exchange"
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

func (b boundSamples) Sent(exchange.Operation, time.Duration, error) {}
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

// A Service times its first call and one in exchange.ProcessSample, and
// tells of every other; so does a subscriber function.
func TestHandlersTimeOneCallInProcessSample(t *testing.T) {
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
	if _, err := b.Serve(ctx, "rr", echo("")); err != nil {
		t.Fatal(err)
	}
	var got sync.WaitGroup
	const n = 2*exchange.ProcessSample + 3
	got.Add(n)
	if _, err := b.SubscribeFunc(ctx, "ps", "#", func(*actors.Publication) { got.Done() }); err != nil {
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
	for _, op := range []exchange.Operation{exchange.OpProcess, exchange.OpDeliver} {
		// Calls 1, 1+ProcessSample, 1+2*ProcessSample are timed.
		if log.timed[op] != 3 || log.untimed[op] != n-3 || log.weights[op] != 3*exchange.ProcessSample {
			t.Errorf("%s: timed %d (weights %d), untimed %d; want 3 (%d), %d", op, log.timed[op], log.weights[op], log.untimed[op],
				3*exchange.ProcessSample, n-3)
		}
	}
	if log.failed != 0 {
		t.Errorf("%d failures, want none", log.failed)
	}
}
