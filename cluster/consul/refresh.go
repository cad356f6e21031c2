package consul

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/consul/api"
)

// logEvery is how often a goroutine repeats that the agent is still
// unreachable.
const logEvery = 30 * time.Second

// refresh passes the instance's TTL check every RefreshInterval until ctx
// ends. After a failure it registers the instance again before passing: the
// agent may have restarted and forgotten it (registering is idempotent). It
// never gives up while ctx lasts; it logs the first failure, then every
// logEvery, and the recovery.
func (d *Discovery) refresh(ctx context.Context, reg *api.AgentServiceRegistration, log *slog.Logger) {
	t := time.NewTicker(d.cfg.RefreshInterval)
	defer t.Stop()
	var failingSince, lastLog time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.refreshPaused.Load() {
			continue
		}
		// One attempt may take up to TTL: past that the check is critical
		// anyway and the next attempt should start afresh.
		attempt, cancel := context.WithTimeout(ctx, d.cfg.TTL)
		var err error
		if failingSince.IsZero() {
			err = d.pass(attempt, reg.ID)
		} else {
			err = d.register(attempt, reg)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		switch {
		case err == nil && !failingSince.IsZero():
			log.Info("consul: TTL check passing again",
				slog.Duration("failed_for", now.Sub(failingSince).Round(time.Millisecond)))
			failingSince = time.Time{}
		case err == nil:
		case failingSince.IsZero():
			failingSince, lastLog = now, now
			log.Warn("consul: cannot pass TTL check; peers will drop this node after the TTL; retrying",
				slog.Any("err", err), slog.Duration("ttl", d.cfg.TTL))
		case now.Sub(lastLog) >= logEvery:
			lastLog = now
			log.Warn("consul: still cannot pass TTL check; retrying", slog.Any("err", err),
				slog.Duration("failing_for", now.Sub(failingSince).Round(time.Second)))
		}
	}
}
