package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/errs"
)

// TestWorkersOption: Config.Workers (WithWorkers) sizes the broker's worker
// pool, 0 means the default, and a figure out of range is refused with a
// *FieldError naming the field before anything starts.
func TestWorkersOption(t *testing.T) {
	withWorkers := func(n int) Option {
		return func(o *options) { o.cfg.Workers = n }
	}
	tests := []struct {
		name string
		opts []Option
		want int    // the pool's size when New succeeds
		bad  string // the problem's start when New must fail
	}{
		{name: "default", want: DefaultWorkersPerProc * runtime.GOMAXPROCS(0)},
		{name: "zero is the default", opts: []Option{WithWorkers(0)}, want: DefaultWorkersPerProc * runtime.GOMAXPROCS(0)},
		{name: "one", opts: []Option{WithWorkers(1)}, want: 1},
		{name: "some", opts: []Option{WithWorkers(7)}, want: 7},
		{name: "the most", opts: []Option{WithWorkers(MaxWorkers)}, want: MaxWorkers},
		{name: "through Config", opts: []Option{withWorkers(3)}, want: 3},
		{name: "after WithConfig", opts: []Option{WithWorkers(5), WithConfig(DefaultConfig())}, want: DefaultWorkersPerProc * runtime.GOMAXPROCS(0)},
		{name: "negative", opts: []Option{WithWorkers(-1)}, bad: "is -1, want 0"},
		{name: "too many", opts: []Option{WithWorkers(MaxWorkers + 1)}, bad: fmt.Sprintf("is %d, want 0", MaxWorkers+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.opts...)
			if tt.bad != "" {
				var fe *errs.FieldError
				if !errors.As(err, &fe) || fe.Field != "exchange.Config.Workers" || !errors.Is(err, ErrInvalid) {
					t.Fatalf("New = %v, want a *FieldError for exchange.Config.Workers wrapping ErrInvalid", err)
				}
				if !strings.HasPrefix(fe.Problem, tt.bad) {
					t.Errorf("problem %q, want it to start with %q", fe.Problem, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := b.Stop(ctx); err != nil {
					t.Error(err)
				}
			}()
			if got := b.pool.Workers(); got != tt.want {
				t.Errorf("pool of %d workers, want %d", got, tt.want)
			}
		})
	}
}
