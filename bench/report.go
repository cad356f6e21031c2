package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Results is everything a run measured: what -json writes.
type Results struct {
	Machine Machine       `json:"machine"`
	Config  ConfigReport  `json:"config"`
	Rows    []Row         `json:"rows"`
	Ratios  []Ratio       `json:"ratios,omitempty"`
	Fanout  *FanoutResult `json:"fanout,omitempty"`
	Slow    []SlowResult  `json:"slow_subscriber,omitempty"`
	// SlowHandler is slow-handler's runs: probation off, then on.
	SlowHandler []ProbationRow `json:"slow_handler,omitempty"`
	Flapping    *FlapResult    `json:"flapping_handler,omitempty"`
	// LocalFirst is the localfirst scenario's (localfirst.go).
	LocalFirst *LocalFirstResult `json:"local_first,omitempty"`
	// Peers is the NATS run of -compare, as bench/peers reported it.
	Peers       *Results `json:"peers,omitempty"`
	PeersRatios []Ratio  `json:"peers_ratios,omitempty"`
}

// ConfigReport is the run's settings.
type ConfigReport struct {
	Scenario     string  `json:"scenario"`
	Nodes        int     `json:"nodes"`
	Strategy     string  `json:"strategy"`
	Handlers     int     `json:"handlers"`
	Cycles       []int   `json:"cycles"`
	Par          []int   `json:"par"`
	PayloadBytes int     `json:"payload_bytes"`
	Timeout      float64 `json:"timeout_seconds"`
	Subscribers  int     `json:"subscribers"`
	FanoutNodes  int     `json:"fanout_nodes"`
	Pubs         int     `json:"pubs"`
	Args         string  `json:"args"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Revision   string `json:"git_revision,omitempty"`
	Modified   bool   `json:"git_modified,omitempty"`
	Time       string `json:"time"`
}

// Ratio compares one row of bourse with its reference.
type Ratio struct {
	Row       string  `json:"row"` // "seq 10000", "par 4"
	Nodes     int     `json:"nodes"`
	Reference string  `json:"reference"` // "raw-local", "raw-remote", "nats"
	Bourse    float64 `json:"bourse_cycles_per_sec"`
	Other     float64 `json:"reference_cycles_per_sec"`
	Ratio     float64 `json:"ratio"` // Bourse / Other
}

func machine() Machine {
	m := Machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Time: time.Now().UTC().Format(time.RFC3339),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.Revision = s.Value
			case "vcs.modified":
				m.Modified = s.Value == "true"
			}
		}
	}
	if m.Revision == "" {
		// go run and -buildvcs=false leave no VCS settings: ask git.
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			m.Revision = strings.TrimSpace(string(out))
			if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
				m.Modified = len(strings.TrimSpace(string(st))) > 0
			}
		}
	}
	return m
}

// cpuModel reads the processor's name from /proc/cpuinfo ("" elsewhere).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// seedLine is a row in seed 002's format: "Sequential 10000 cycles in ~0
// seconds (26987 cycles/s)", "Parallel 4 100000 cycles in ~2 seconds (53459
// cycles/s)".
func seedLine(r Row) string {
	head := fmt.Sprintf("Sequential %d", r.Cycles)
	if r.Parallel {
		head = fmt.Sprintf("Parallel %d %d", r.Callers, r.Cycles)
	}
	return fmt.Sprintf("%s cycles in ~%d seconds (%d cycles/s)", head, int(math.Round(r.Seconds)), int(math.Round(r.PerSec)))
}

// rowLine is seedLine followed by the latency percentiles and the CPU used.
func rowLine(r Row) string {
	var b strings.Builder
	b.WriteString(seedLine(r))
	fmt.Fprintf(&b, "  p50 %s p99 %s p99.9 %s", fmtMicros(r.Latency.P50), fmtMicros(r.Latency.P99), fmtMicros(r.Latency.P999))
	fmt.Fprintf(&b, "  cpu %.2fs (%.0f%%)", r.CPUSeconds, 100*r.CPUSeconds/r.Seconds)
	if r.AllCPUSeconds != r.CPUSeconds {
		fmt.Fprintf(&b, ", all processes %.2fs (%.0f%%)", r.AllCPUSeconds, 100*r.AllCPUSeconds/r.Seconds)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "  %d ERRORS (first: %s)", r.Errors, r.FirstError)
	}
	return b.String()
}

// fmtMicros renders a duration given in microseconds with a unit that fits.
func fmtMicros(us float64) string {
	switch {
	case us < 10:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10000:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fms", us/1e3)
	}
}

func fanoutLine(f FanoutResult) string {
	return fmt.Sprintf("Fanout %d subscribers on %d nodes: %d publications in ~%d seconds (%d deliveries/s)"+
		"  publication to last delivery p50 %s p99 %s max %s  network messages per publication %.2f (want %d)  cpu %.2fs, all processes %.2fs",
		f.Subscribers, f.Nodes, f.Publications, int(math.Round(f.Seconds)), int(math.Round(f.DeliveriesPerSec)),
		fmtMicros(f.Latency.P50), fmtMicros(f.Latency.P99), fmtMicros(f.Latency.Max),
		f.NetworkMessagesPerPub, f.WantPerPub, f.CPUSeconds, f.AllCPUSeconds)
}

// ratios pairs each bourse row with the row of the same label in ref.
func ratios(rows []Row, refRows []Row, refPath string, nodes int) []Ratio {
	var out []Ratio
	for _, r := range rows {
		if r.Path != "bourse" || r.Nodes != nodes {
			continue
		}
		for _, o := range refRows {
			if o.Path == refPath && o.Label() == r.Label() && o.Cycles == r.Cycles && o.PerSec > 0 {
				out = append(out, Ratio{Row: r.Label(), Nodes: nodes, Reference: refPath, Bourse: r.PerSec, Other: o.PerSec, Ratio: r.PerSec / o.PerSec})
			}
		}
	}
	return out
}

func printRatios(w io.Writer, title string, rs []Ratio) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n== %s\n", title)
	for _, r := range rs {
		fmt.Fprintf(w, "%-12s %d node(s): bourse %d cycles/s, %s %d cycles/s: %.2fx\n",
			r.Row, r.Nodes, int(math.Round(r.Bourse)), r.Reference, int(math.Round(r.Other)), r.Ratio)
	}
}

func writeJSON(file string, res *Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}
