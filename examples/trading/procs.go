package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// stderrTail is how many of a child's last log lines the parent keeps to
// explain a failure.
const stderrTail = 20

// child is a node process as the parent sees it.
type child struct {
	name string
	p    *proc

	mu              sync.Mutex
	last            nodeReport
	has             bool
	changed         chan struct{} // closed and replaced at every report
	raced           bool
	killedOnPurpose bool
}

// startChild runs this program's binary again as node name with args. The
// child's stdin stays open until stop: a child exits when it reads EOF, so
// it never outlives the parent, even one killed with SIGKILL. When logs is
// not nil, the child's log lines are copied there.
func startChild(name string, args []string, logs io.Writer) (*child, error) {
	c := &child{name: name, changed: make(chan struct{})}
	p, err := startProc(procOptions{
		args:   args,
		env:    []string{roleEnv + "=" + roleNode},
		stdout: c.readReport,
		stderr: func(_ *proc, line string) {
			if logs != nil {
				fmt.Fprintf(logs, "[%s] %s\n", c.name, line)
			}
			if isRaceReport(line) {
				c.mu.Lock()
				c.raced = true
				c.mu.Unlock()
			}
		},
		tail:    stderrTail,
		maxLine: 4 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("start node %s: %w", name, err)
	}
	c.p = p
	return c, nil
}

// readReport takes one line of the child's stdout.
func (c *child) readReport(p *proc, line string) {
	line, ok := strings.CutPrefix(line, reportPrefix)
	if !ok {
		return
	}
	var rep nodeReport
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		p.note("bad report: " + err.Error())
		return
	}
	c.mu.Lock()
	c.last, c.has = rep, true
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// send writes one command line to the child.
func (c *child) send(ctx context.Context, cmd string) error {
	if err := c.p.send(ctx, cmd); err != nil {
		return fmt.Errorf("node %s: send %q: %w", c.name, cmd, err)
	}
	return nil
}

// report returns the child's latest report.
func (c *child) report() nodeReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// await waits, at most d, until the child's latest report satisfies ok, and
// returns that report.
func (c *child) await(ctx context.Context, d time.Duration, what string, ok func(*nodeReport) bool) (nodeReport, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		rep, has, changed := c.last, c.has, c.changed
		c.mu.Unlock()
		if has && ok(&rep) {
			return rep, nil
		}
		select {
		case <-changed:
		case <-c.p.exited():
			return rep, fmt.Errorf("node %s exited (%v) while waiting for %s%s", c.name, c.p.exitErr(), what, c.logTail())
		case <-timer.C:
			return rep, fmt.Errorf("node %s: no %s after %v%s", c.name, what, d, c.logTail())
		case <-ctx.Done():
			return rep, fmt.Errorf("waiting for %s on node %s: %w", what, c.name, ctx.Err())
		}
	}
}

func (c *child) logTail() string {
	tail := c.p.tailLines()
	if len(tail) == 0 {
		return ""
	}
	return "; its last log lines:\n  " + strings.Join(tail, "\n  ")
}

// kill kills the child with SIGKILL, as a crash would, and waits until it
// is gone or ctx ends.
func (c *child) kill(ctx context.Context) error {
	if err := c.p.kill(ctx); err != nil {
		return fmt.Errorf("kill node %s: %w", c.name, err)
	}
	return nil
}

// stop closes the child's stdin, which makes it stop its node and exit, and
// waits for it, at most d; then it kills it. It returns how the child
// exited.
func (c *child) stop(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := c.p.stop(ctx)
	if errors.Is(err, errNotStopped) {
		return fmt.Errorf("node %s did not stop within %v: killed", c.name, d)
	}
	return err
}

func (c *child) sawRace() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raced
}

// markKilled records that the parent killed the child on purpose, so that
// its exit status is no error.
func (c *child) markKilled() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killedOnPurpose = true
}

func (c *child) killed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killedOnPurpose
}
