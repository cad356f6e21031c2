package consul

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/errs"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.TTL != 3*time.Second || c.RefreshInterval != time.Second ||
		c.DeregisterAfter != time.Minute || c.WaitTime != 30*time.Second || c.Logger == nil {
		t.Fatalf("DefaultConfig() = %+v", c)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Address: is empty") {
		t.Fatalf("DefaultConfig().Validate() = %v, want Address: is empty", err)
	}
	c.Address = "127.0.0.1:8500"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	const addr = "127.0.0.1:8500"
	tests := []struct {
		name  string
		cfg   Config
		field string // "" when valid
		msg   string // substring of the error
	}{
		{"address only", Config{Address: addr}, "", ""},
		{"hostname", Config{Address: "consul.local:8500"}, "", ""},
		{"ipv6", Config{Address: "[::1]:8500"}, "", ""},
		{"all set", Config{Address: addr, Token: "t", TTL: time.Second, RefreshInterval: 300 * time.Millisecond,
			DeregisterAfter: 2 * time.Minute, WaitTime: time.Second}, "", ""},
		{"ttl only, refresh defaults to a third", Config{Address: addr, TTL: time.Second}, "", ""},
		{"empty address", Config{}, "Address", "bourse: consul.Config.Address: is empty"},
		{"scheme", Config{Address: "http://" + addr}, "Address", "has a scheme"},
		{"no port", Config{Address: "127.0.0.1"}, "Address", "is not host:port"},
		{"no host", Config{Address: ":8500"}, "Address", "has no host"},
		{"port 0", Config{Address: "127.0.0.1:0"}, "Address", "want 1-65535"},
		{"port name", Config{Address: "127.0.0.1:consul"}, "Address", "want 1-65535"},
		{"port too big", Config{Address: "127.0.0.1:65536"}, "Address", "want 1-65535"},
		{"negative ttl", Config{Address: addr, TTL: -time.Second}, "TTL", "must not be negative"},
		{"tiny ttl", Config{Address: addr, TTL: time.Microsecond}, "TTL", "at least 1ms"},
		{"negative refresh", Config{Address: addr, RefreshInterval: -1}, "RefreshInterval", "must not be negative"},
		{"refresh equals ttl", Config{Address: addr, TTL: time.Second, RefreshInterval: time.Second},
			"RefreshInterval", "must be shorter than the TTL (1s)"},
		{"refresh longer than default ttl", Config{Address: addr, RefreshInterval: 5 * time.Second},
			"RefreshInterval", "must be shorter than the TTL (3s)"},
		{"negative deregister", Config{Address: addr, DeregisterAfter: -time.Minute}, "DeregisterAfter", "must not be negative"},
		{"deregister below minimum", Config{Address: addr, DeregisterAfter: 30 * time.Second},
			"DeregisterAfter", "below Consul's minimum of 1m0s"},
		{"negative wait", Config{Address: addr, WaitTime: -time.Second}, "WaitTime", "must not be negative"},
		{"wait above maximum", Config{Address: addr, WaitTime: 11 * time.Minute}, "WaitTime", "above Consul's maximum of 10m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, newErr := New(tt.cfg)
			if tt.field == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate() = %v, New() error = %v; want valid", err, newErr)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v (%T), want *ConfigError", err, err)
			}
			if ce.Field != "consul.Config."+tt.field {
				t.Errorf("Field = %q, want consul.Config.%s (%v)", ce.Field, tt.field, err)
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("Validate() = %v, does not wrap errs.ErrInvalid", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "bourse: consul.Config."+tt.field+": ") || !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q: want prefix %q and %q in it", msg, "bourse: consul.Config."+tt.field+": ", tt.msg)
			}
			if newErr == nil || newErr.Error() != err.Error() {
				t.Errorf("New() error = %v, want %v", newErr, err)
			}
		})
	}
}

// Start validates its arguments before contacting the agent, so these need
// none.
func TestStartValidatesRegistration(t *testing.T) {
	d, err := New(Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	good := cluster.Registration{Cluster: "c", Node: "n", Host: "127.0.0.1", Port: 7000}
	tests := []struct {
		name   string
		mutate func(*cluster.Registration)
		field  string
	}{
		{"no cluster", func(r *cluster.Registration) { r.Cluster = "" }, "Registration.Cluster"},
		{"no node", func(r *cluster.Registration) { r.Node = "" }, "Registration.Node"},
		{"no host", func(r *cluster.Registration) { r.Host = "" }, "Registration.Host"},
		{"port 0", func(r *cluster.Registration) { r.Port = 0 }, "Registration.Port"},
		{"port too big", func(r *cluster.Registration) { r.Port = 70000 }, "Registration.Port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mutate(&r)
			err := d.Start(context.Background(), r, func([]cluster.Peer) {})
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "cluster."+tt.field || !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("Start() = %v, want *ConfigError for %s", err, tt.field)
			}
		})
	}
	err = d.Start(context.Background(), good, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "consul.Discovery.Start" {
		t.Fatalf("Start(nil update) = %v, want *ConfigError for update", err)
	}
}
