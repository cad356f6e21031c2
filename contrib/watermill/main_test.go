package watermill_test

import (
	"os"
	"testing"

	"github.com/bourse-go/bourse/cluster/clustertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	clustertest.Main(map[string]clustertest.ChildFunc{"publisher": runPublisherNode})
	goleak.VerifyTestMain(m, leakOptions()...)
	os.Exit(0) // not reached: VerifyTestMain exits
}

// leakOptions ignore the goroutines a stopped node may leave for a moment:
// protoactor's dead-letter throttle, which ends by itself within a second
// (bourse's internal/leakcheck says why), and the goroutine that watches
// the parent of an isolated test process.
func leakOptions() []goleak.Option {
	return append(clustertest.LeakOptions(),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}
