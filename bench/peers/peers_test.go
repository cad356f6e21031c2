package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPeers runs every scenario with tiny counts: it proves the command
// works, not how fast NATS is.
func TestPeers(t *testing.T) {
	for _, nodes := range []string{"1", "3"} {
		t.Run("nodes="+nodes, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "out.json")
			var stdout, stderr bytes.Buffer
			code := peersMain([]string{"-scenario", "all", "-nodes", nodes, "-cycles", "200", "-par", "2,4",
				"-subscribers", "50", "-fanout-nodes", "3", "-pubs", "5", "-json", js}, &stdout, &stderr)
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			if code != 0 {
				t.Fatalf("exit status %d", code)
			}
			b, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var res Results
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 3 || res.Fanout == nil || res.Fanout.DeliveriesPerSec <= 0 {
				t.Fatalf("results: %+v", res)
			}
			for _, r := range res.Rows {
				if r.Path != "nats" || r.Errors != 0 || r.PerSec <= 0 {
					t.Errorf("row %+v", r)
				}
			}
			if !strings.Contains(stdout.String(), "Sequential 200 cycles in ~0 seconds (") {
				t.Errorf("no line in seed 002's format")
			}
		})
	}
}

func TestPeersBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := peersMain([]string{"-nodes", "2", "-scenario", "baseline"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	for _, want := range []string{"-nodes: 2, want 1 or 3", `-scenario: unknown scenario "baseline"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not say %q", stderr.String(), want)
		}
	}
}
