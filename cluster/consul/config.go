package consul

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bourse-go/bourse/errs"
)

// Defaults and limits of Config's durations.
const (
	// DefaultTTL is the TTL of the node's health check.
	DefaultTTL = 3 * time.Second
	// DefaultDeregisterAfter is how long Consul keeps a critical instance.
	// It is also Consul's minimum: the agent silently raises smaller values.
	DefaultDeregisterAfter = time.Minute
	// DefaultWaitTime is how long one blocking query waits for a change.
	DefaultWaitTime = 30 * time.Second
	// MaxWaitTime is the longest wait Consul honours for a blocking query.
	MaxWaitTime = 10 * time.Minute
)

// Config configures a Discovery. A zero duration means its default, so a
// Config filled from YAML needs only Address.
type Config struct {
	// Address is the Consul agent's HTTP address, "host:port" (required).
	// Usually the node's local agent, e.g. "127.0.0.1:8500".
	Address string
	// Token is the ACL token sent with every request. When empty, the
	// CONSUL_HTTP_TOKEN and CONSUL_HTTP_TOKEN_FILE environment variables
	// apply, as with every Consul client.
	Token string
	// TTL is the TTL of the node's health check (default 3s): a node that has
	// not passed its check for TTL is critical and no longer a peer.
	TTL time.Duration
	// RefreshInterval is how often the node passes its check (default TTL/3).
	// It must be shorter than TTL.
	RefreshInterval time.Duration
	// DeregisterAfter is how long Consul keeps a critical node before removing
	// it (default and minimum 1m).
	DeregisterAfter time.Duration
	// WaitTime is how long one blocking query for peers waits for a change
	// (default 30s, at most 10m). It bounds nothing the caller sees: changes
	// arrive as soon as Consul has them. Tests use a short one.
	WaitTime time.Duration
	// Logger receives the agent's unavailability and recovery (default
	// slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in. Address is
// left empty: set it to the agent's address.
func DefaultConfig() Config {
	return Config{}.withDefaults()
}

// withDefaults returns c with its zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = c.TTL / 3
	}
	if c.DeregisterAfter == 0 {
		c.DeregisterAfter = DefaultDeregisterAfter
	}
	if c.WaitTime == 0 {
		c.WaitTime = DefaultWaitTime
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first problem with c, as an *errs.FieldError
// naming the field ("consul.Config.TTL"); it wraps errs.ErrInvalid. Zero
// durations are valid: they mean the defaults, which Validate checks
// together with the fields that are set (a RefreshInterval of 5s is invalid
// with the default TTL of 3s).
func (c Config) Validate() error {
	if err := validateAddress(c.Address); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"TTL", c.TTL},
		{"RefreshInterval", c.RefreshInterval},
		{"DeregisterAfter", c.DeregisterAfter},
		{"WaitTime", c.WaitTime},
	} {
		if f.d < 0 {
			return errs.Field("consul.Config."+f.name, "is %v, must not be negative", f.d)
		}
	}
	d := c.withDefaults()
	if d.TTL < time.Millisecond {
		// Consul formats and parses TTLs with time.Duration's string form;
		// below a millisecond the check is meaningless.
		return errs.Field("consul.Config.TTL", "is %v, must be at least 1ms", d.TTL)
	}
	if d.RefreshInterval >= d.TTL {
		return errs.Field("consul.Config.RefreshInterval", "is %v, must be shorter than the TTL (%v) or the check goes critical between refreshes",
			d.RefreshInterval, d.TTL)
	}
	if d.DeregisterAfter < DefaultDeregisterAfter {
		return errs.Field("consul.Config.DeregisterAfter", "is %v, below Consul's minimum of %v", d.DeregisterAfter, DefaultDeregisterAfter)
	}
	if d.WaitTime > MaxWaitTime {
		return errs.Field("consul.Config.WaitTime", "is %v, above Consul's maximum of %v", d.WaitTime, MaxWaitTime)
	}
	return nil
}

func validateAddress(addr string) error {
	if addr == "" {
		return errs.Field("consul.Config.Address", "is empty")
	}
	if strings.Contains(addr, "://") {
		return errs.Field("consul.Config.Address", "%q has a scheme, want host:port", addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errs.Field("consul.Config.Address", "%q is not host:port: %v", addr, err)
	}
	if host == "" {
		return errs.Field("consul.Config.Address", "%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errs.Field("consul.Config.Address", "%q has port %q, want 1-65535", addr, port)
	}
	return nil
}
