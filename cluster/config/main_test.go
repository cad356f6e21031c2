package config_test

import (
	"testing"

	"github.com/bourse-go/bourse/cluster/clustertest"
	"github.com/bourse-go/bourse/internal/leakcheck"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the Start tests
// run a node (each in a process of its own, see clustertest.Isolate) and
// stop it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(leakcheck.Options(), clustertest.LeakOptions()...)...)
}
