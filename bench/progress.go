package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress draws one status line on stderr, redrawn in place, when stderr is
// a terminal (or -progress on). Otherwise it does nothing, so that logs and
// CI output stay clean.
type progress struct {
	w  io.Writer // nil: off
	mu sync.Mutex
	// last is when the line was last drawn: ticks come from every caller
	// goroutine, and drawing each would cost more than the cycles.
	last  time.Time
	label string
	total int
	began time.Time
}

func newProgress(w io.Writer, mode string) *progress {
	switch mode {
	case "on":
		return &progress{w: w}
	case "auto":
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				return &progress{w: w}
			}
		}
	}
	return &progress{}
}

// start begins a row and returns the tick function runRow calls (nil when
// the display is off).
func (p *progress) start(spec rowSpec, title string) func(done int) {
	if p.w == nil {
		return nil
	}
	p.mu.Lock()
	p.label = fmt.Sprintf("%s: %s", spec.path, rowLabel(spec))
	p.total = spec.cycles
	p.began = time.Now()
	p.mu.Unlock()
	p.draw(0, true)
	return func(done int) { p.draw(done, false) }
}

func rowLabel(s rowSpec) string {
	if s.parallel {
		return fmt.Sprintf("parallel %d", s.callers)
	}
	return fmt.Sprintf("sequential %d", s.cycles)
}

func (p *progress) draw(done int, force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\033[K%s  %d/%d (%.0f%%)  %.1fs", p.label, done, p.total, 100*float64(done)/float64(p.total), now.Sub(p.began).Seconds())
}

// end clears the line.
func (p *progress) end() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}

// status shows s until the next row or status.
func (p *progress) status(s string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K%s ...", s)
}
