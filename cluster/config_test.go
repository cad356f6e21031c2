package cluster_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/errs"
)

// TestValidateNamesTheField: every rule of Config.Validate returns an
// *errs.FieldError naming its field, wrapping ErrInvalidConfig, which is
// errs.ErrInvalid.
func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		field  string
		change func(*cluster.Config)
	}{
		{"Cluster", func(c *cluster.Config) { c.Cluster = "" }},
		{"Node", func(c *cluster.Config) { c.Node = "" }},
		{"Host", func(c *cluster.Config) { c.Host = "" }},
		{"Host", func(c *cluster.Config) { c.Host = "::" }},
		{"Port", func(c *cluster.Config) { c.Port = 65536 }},
		{"DataPort", func(c *cluster.Config) { c.DataPort = -2 }},
		{"DataPort", func(c *cluster.Config) { c.Port, c.DataPort = 7101, 7101 }},
		{"HeartbeatInterval", func(c *cluster.Config) { c.HeartbeatInterval = time.Millisecond }},
		{"JoinTimeout", func(c *cluster.Config) { c.JoinTimeout = -time.Second }},
		{"SuspectAfter", func(c *cluster.Config) { c.SuspectAfter = 2 * c.HeartbeatInterval }},
		{"Exchange.LeaseDuration", func(c *cluster.Config) { c.Exchange.LeaseDuration = c.SuspectAfter }},
		{"Exchange.MaxRedirects", func(c *cluster.Config) { c.Exchange.MaxRedirects = -1 }},
		{`Labels["zone"]`, func(c *cluster.Config) { c.Labels = map[string]string{"zone": ""} }},
		{`Labels["-zone"]`, func(c *cluster.Config) { c.Labels = map[string]string{"ok": "1", "-zone": "eu"} }},
		{`Labels["Bourse.io/zone"]`, func(c *cluster.Config) { c.Labels = map[string]string{"Bourse.io/zone": "eu"} }},
		{`Labels["zone"]`, func(c *cluster.Config) { c.Labels = map[string]string{"zone": "eu west"} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg := testConfig("a")
			cfg.Labels = map[string]string{"zone": "eu-west-1a", "bourse.io/disk": "ssd", "rack": "r_1.2"}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("testConfig: %v", err)
			}
			tt.change(&cfg)
			err := cfg.Validate()
			var fe *errs.FieldError
			if !errors.As(err, &fe) || fe.Field != "cluster.Config."+tt.field {
				t.Fatalf("Validate() = %v, want an *errs.FieldError for cluster.Config.%s", err, tt.field)
			}
			if !errors.Is(err, cluster.ErrInvalidConfig) || !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("Validate() = %v, does not wrap ErrInvalidConfig and errs.ErrInvalid", err)
			}
			if want := "bourse: cluster.Config." + tt.field + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Validate() = %q, want the prefix %q", err, want)
			}
		})
	}
}
