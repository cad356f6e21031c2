package exchange_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/exchange"
)

// TestConfigWorkers: Validate takes Workers in 0..MaxWorkers and names the
// field otherwise; WorkerCount gives the pool's size, the default for 0.
func TestConfigWorkers(t *testing.T) {
	tests := []struct {
		workers int
		valid   bool
		count   int
	}{
		{workers: 0, valid: true, count: exchange.DefaultWorkersPerProc * runtime.GOMAXPROCS(0)},
		{workers: 1, valid: true, count: 1},
		{workers: 64, valid: true, count: 64},
		{workers: exchange.MaxWorkers, valid: true, count: exchange.MaxWorkers},
		{workers: -1},
		{workers: exchange.MaxWorkers + 1},
		{workers: 1 << 30},
	}
	for _, tt := range tests {
		cfg := exchange.DefaultConfig()
		cfg.Workers = tt.workers
		err := cfg.Validate()
		if tt.valid {
			if err != nil {
				t.Errorf("Workers %d: %v", tt.workers, err)
			}
			if got := cfg.WorkerCount(); got != tt.count {
				t.Errorf("Workers %d: WorkerCount() = %d, want %d", tt.workers, got, tt.count)
			}
			continue
		}
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "exchange.Config.Workers" || !errors.Is(err, exchange.ErrInvalid) {
			t.Errorf("Workers %d: Validate = %v, want a *FieldError for exchange.Config.Workers wrapping ErrInvalid", tt.workers, err)
		}
	}
}
