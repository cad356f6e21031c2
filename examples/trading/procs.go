package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// stderrTail is how many of a child's last log lines the parent keeps to
// explain a failure.
const stderrTail = 20

// child is a node process as the parent sees it.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu              sync.Mutex
	last            nodeReport
	has             bool
	changed         chan struct{} // closed and replaced at every report
	tail            []string
	raced           bool
	killedOnPurpose bool

	done    chan struct{} // closed once the process exited and its output is read
	waitErr error
}

// startChild runs this program's binary again as node name with args. The
// child's stdin stays open until stop: a child exits when it reads EOF, so
// it never outlives the parent, even one killed with SIGKILL. When logs is
// not nil, the child's log lines are copied there.
func startChild(name string, args []string, logs io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleNode)
	c := &child{name: name, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node %s: %w", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); c.readReports(stdout) }()
	go func() { defer readers.Done(); c.readLogs(stderr, logs) }()
	go func() {
		readers.Wait() // os/exec: read everything before Wait
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) readReports(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), reportPrefix)
		if !ok {
			continue
		}
		var rep nodeReport
		if err := json.Unmarshal([]byte(line), &rep); err != nil {
			c.log("bad report: " + err.Error())
			continue
		}
		c.mu.Lock()
		c.last, c.has = rep, true
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // after a line too long: drain, or the child blocks
}

func (c *child) readLogs(r io.Reader, logs io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if logs != nil {
			fmt.Fprintf(logs, "[%s] %s\n", c.name, line)
		}
		c.log(line)
	}
	_, _ = io.Copy(io.Discard, r)
}

func (c *child) log(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Contains(line, "WARNING: DATA RACE") {
		c.raced = true
	}
	c.tail = append(c.tail, line)
	if len(c.tail) > stderrTail {
		c.tail = c.tail[1:]
	}
}

// send writes one command line to the child.
func (c *child) send(cmd string) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
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
		case <-c.done:
			return rep, fmt.Errorf("node %s exited (%v) while waiting for %s%s", c.name, c.waitErr, what, c.logTail())
		case <-timer.C:
			return rep, fmt.Errorf("node %s: no %s after %v%s", c.name, what, d, c.logTail())
		case <-ctx.Done():
			return rep, fmt.Errorf("waiting for %s on node %s: %w", what, c.name, ctx.Err())
		}
	}
}

func (c *child) logTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tail) == 0 {
		return ""
	}
	return "; its last log lines:\n  " + strings.Join(c.tail, "\n  ")
}

// kill kills the child with SIGKILL, as a crash would, and waits until it
// is gone.
func (c *child) kill() error {
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill node %s: %w", c.name, err)
	}
	<-c.done
	return nil
}

// stop closes the child's stdin, which makes it stop its node and exit, and
// waits for it, at most d; then it kills it. It returns how the child
// exited.
func (c *child) stop(d time.Duration) error {
	_ = c.stdin.Close()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-c.done:
		return c.waitErr
	case <-timer.C:
		_ = c.kill()
		return fmt.Errorf("node %s did not stop within %v: killed", c.name, d)
	}
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
