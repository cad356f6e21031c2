//go:build chaos

package chaos

import "golang.org/x/sys/unix"

// mono reads CLOCK_MONOTONIC in nanoseconds. Unlike time.Now's monotonic
// reading, which counts from the process's start, it is one clock for every
// process of the host, so children's and the parent's times compare.
func mono() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot fail on Linux with a valid pointer
	}
	return ts.Nano()
}
