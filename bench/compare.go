package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// runPeers runs the NATS rows of bench/peers with the same settings, as
// `go run .` in that module (it has a go.mod of its own, so that this module
// does not depend on NATS), and returns what it wrote with -json. Its table
// goes to stderr; the caller prints the rows.
func runPeers(ctx context.Context, c config, stderr io.Writer) (*Results, error) {
	dir, err := peersDir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "bench-peers-*.json")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// NATS has no counterpart of the raw protoactor reference.
	var which []string
	for _, s := range []string{scenarioReqResp, scenarioFanout} {
		if c.runs(s) {
			which = append(which, s)
		}
	}
	if len(which) == 0 {
		return nil, nil
	}
	scenario := strings.Join(which, ",")
	ints := func(xs []int) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	args := []string{"run", ".", "-scenario", scenario, "-nodes", strconv.Itoa(c.nodes),
		"-cycles", ints(c.cycles), "-par", ints(c.par), "-payload", strconv.Itoa(c.payload),
		"-subscribers", strconv.Itoa(c.subscribers), "-fanout-nodes", strconv.Itoa(c.fanoutNodes),
		"-pubs", strconv.Itoa(c.pubs), "-json", tmp.Name()}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("-compare: go %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("-compare: %w", err)
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("-compare: reading bench/peers' JSON: %w", err)
	}
	return &res, nil
}

// peersDir finds bench/peers from the working directory up.
func peersDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "bench", "peers")
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("-compare: bench/peers/go.mod not found above the working directory; run from the bourse repository")
		}
		dir = parent
	}
}
