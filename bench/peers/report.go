package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The types below mirror bourse's bench/report.go field for field in JSON,
// so that `go run ./bench -compare` reads this command's output as its own.

// Results is what -json writes.
type Results struct {
	Machine Machine       `json:"machine"`
	Rows    []Row         `json:"rows"`
	Fanout  *FanoutResult `json:"fanout,omitempty"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	NATSServer string `json:"nats_server"`
	NATSClient string `json:"nats_client"`
	Time       string `json:"time"`
}

// Latency holds percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

// Row is one line of a request-reply table.
type Row struct {
	Path          string  `json:"path"`
	Nodes         int     `json:"nodes"`
	Callers       int     `json:"callers"`
	Parallel      bool    `json:"parallel"`
	Cycles        int     `json:"cycles"`
	Errors        int64   `json:"errors"`
	Seconds       float64 `json:"seconds"`
	PerSec        float64 `json:"cycles_per_sec"`
	Latency       Latency `json:"latency"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	AllCPUSeconds float64 `json:"cpu_seconds_all_processes"`
	FirstError    string  `json:"first_error,omitempty"`
}

// Label names the row: "seq 10000", "par 4".
func (r Row) Label() string {
	if r.Parallel {
		return fmt.Sprintf("par %d", r.Callers)
	}
	return fmt.Sprintf("seq %d", r.Cycles)
}

// FanoutResult is the figures of the fan-out scenario.
type FanoutResult struct {
	Nodes                 int     `json:"nodes"`
	Subscribers           int     `json:"subscribers"`
	SubscribersPerNode    []int   `json:"subscribers_per_node"`
	PayloadBytes          int     `json:"payload_bytes"`
	LatencyPublications   int     `json:"latency_publications"`
	Latency               Latency `json:"publication_to_last_delivery"`
	Publications          int     `json:"publications"`
	Seconds               float64 `json:"seconds"`
	DeliveriesPerSec      float64 `json:"deliveries_per_sec"`
	NetworkMessages       uint64  `json:"network_messages"`
	NetworkMessagesPerPub float64 `json:"network_messages_per_publication"`
	WantPerPub            int     `json:"want_network_messages_per_publication"`
	CPUSeconds            float64 `json:"cpu_seconds"`
	AllCPUSeconds         float64 `json:"cpu_seconds_all_processes"`
	SetupSeconds          float64 `json:"setup_seconds"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, Time: time.Now().UTC().Format(time.RFC3339)}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/nats-io/nats-server/v2":
				m.NATSServer = d.Version
			case "github.com/nats-io/nats.go":
				m.NATSClient = d.Version
			}
		}
	}
	return m
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(time.Minute), 3) }

func latencyOf(h *hdrhistogram.Histogram) Latency {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{P50: us(h.ValueAtQuantile(50)), P99: us(h.ValueAtQuantile(99)), P999: us(h.ValueAtQuantile(99.9)),
		Max: us(h.Max()), Mean: h.Mean() / 1e3}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rowLine prints a row as bourse's bench does: seed 002's format, then the
// latency percentiles and the CPU.
func rowLine(r Row) string {
	head := fmt.Sprintf("Sequential %d", r.Cycles)
	if r.Parallel {
		head = fmt.Sprintf("Parallel %d %d", r.Callers, r.Cycles)
	}
	s := fmt.Sprintf("%s cycles in ~%d seconds (%d cycles/s)  p50 %s p99 %s p99.9 %s  cpu %.2fs (%.0f%%)",
		head, int(math.Round(r.Seconds)), int(math.Round(r.PerSec)),
		fmtMicros(r.Latency.P50), fmtMicros(r.Latency.P99), fmtMicros(r.Latency.P999), r.CPUSeconds, 100*r.CPUSeconds/r.Seconds)
	if r.Errors > 0 {
		s += fmt.Sprintf("  %d ERRORS (first: %s)", r.Errors, r.FirstError)
	}
	return s
}

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
		"  publication to last delivery p50 %s p99 %s max %s  network messages per publication %.2f (want %d)  cpu %.2fs",
		f.Subscribers, f.Nodes, f.Publications, int(math.Round(f.Seconds)), int(math.Round(f.DeliveriesPerSec)),
		fmtMicros(f.Latency.P50), fmtMicros(f.Latency.P99), fmtMicros(f.Latency.Max),
		f.NetworkMessagesPerPub, f.WantPerPub, f.CPUSeconds)
}

func writeJSON(file string, res *Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	return nil
}

func section(w interface{ Write([]byte) (int, error) }, title string) {
	fmt.Fprintf(w, "\n== %s\n", strings.TrimSpace(title))
}
