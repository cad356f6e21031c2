package cluster_test

import "golang.org/x/sys/unix"

// mono reads CLOCK_MONOTONIC in nanoseconds, which every process of the
// host shares (time.Now's monotonic reading is relative to each process's
// start), so that instants logged by different processes compare.
func mono() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}
