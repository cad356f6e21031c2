//go:build chaos

package chaos

import (
	"flag"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	flagDuration = flag.Duration("chaos.duration", time.Minute, "how long the load and the fault schedule run")
	flagSeed     = flag.Uint64("chaos.seed", 0, "seed of the fault schedule and random choices (0: pick one and print it)")
	flagJSON     = flag.String("chaos.json", "", "write the figures as JSON to this file")
	flagLog      = flag.String("chaos.log", "", "write the children's stderr to files in this directory")
	flagPace     = flag.Duration("chaos.pace", 10*time.Millisecond, "pause of each caller between two requests")
	flagRequire  = flag.String("chaos.require", "1,2,3,4,5,6", "the invariants whose violation fails the test (all are checked and printed)")
	flagDebug    = flag.Bool("chaos.debug", false, "children log at debug level, each record stamped mono=<monotonic ns>; kills are logged with their times (use with -chaos.log)")
	flagSubnet   = flag.Int("chaos.subnet", 0, "third byte of the nodes' addresses 198.18.X.1..5 (0: derived from the seed); placement hashes the addresses, so a run is reproduced by its seed and subnet")
	flagLeader   = flag.String("chaos.leader", "poll", "how a handler learns it leads: poll (Service.IsLeader every ms: the lease's own clock), callback (OnLeading's context) or both")
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	// The parent runs no node: every goroutine it starts must be gone.
	goleak.VerifyTestMain(m)
}

// debugEnv is the children's CHAOS_DEBUG.
func debugEnv() string {
	if *flagDebug {
		return "1"
	}
	return ""
}

// heapProfEnv is the children's CHAOS_HEAPPROF: with -chaos.debug and
// -chaos.log, each writes its heap profile there when its load ends.
func heapProfEnv() string {
	if *flagDebug {
		return *flagLog
	}
	return ""
}
