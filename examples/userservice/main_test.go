package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// protoactor's dead-letter throttle starts a goroutine on the first
	// dead letter of a period, which ends by itself when the period (1 s)
	// is over: not a leak.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}

// TestRun runs the example, shortened, and checks its report.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, logs bytes.Buffer
	err := run(ctx, []string{"-duration=1s"}, &out, &logs)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\nlogs:\n%s", err, logs.String())
	}
	for _, want := range []string{
		`(?m)^users: 5 instances serve "users" \(round-robin\); the leader, users-1, runs the verification task$`,
		`(?m)^leader: stopped users-1 gracefully; users-2 leads now and runs the task, started \S+ after the stop$`,
		`(?m)^requests while 5 instances served: [1-9]\d* \(users-1 \d+, users-2 \d+, users-3 \d+, users-4 \d+, users-5 \d+\)$`,
		`(?m)^requests while 4 instances served: [1-9]\d* \(users-2 \d+, users-3 \d+, users-4 \d+, users-5 \d+\)$`,
		`(?m)^callers: \d+ reads, \d+ updates \(\d+ e-mail, \d+ documents\); failed requests: 0$`,
		`(?m)^updates: (\d+) published on "profile-updates"; search index got \d+ \(profiles\.#\), mailer \d+ \(profiles\.\*\.email\)$`,
		`(?m)^task: ran on users-1 \(\d+ sweeps, \d+ profiles verified\), then users-2 \(\d+ sweeps, \d+ profiles verified\); copies at once: at most 1; gap between copies \S+; leader changes: 1$`,
		`(?m)^status page \(no handler, WatchLeader\): leaders seen users-1, then users-2$`,
		`(?m)^invariants: ok$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks a line matching %s", want)
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-duration=1h"}, {"-duration=0"}, {"-bogus"}, {"extra"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
		if out.Len() > 0 {
			t.Errorf("run(%q) printed %q", args, out.String())
		}
	}
}
