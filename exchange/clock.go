package exchange

import "time"

// epoch is this process's origin of mono.
var epoch = time.Now()

// mono is a deadline on the data path: nanoseconds since epoch on the
// monotonic clock; 0 means none. Reading it costs one read of the
// monotonic clock, where time.Now reads the wall clock as well (30-50 ns a
// read on these VMs), and it is 8 bytes where a time.Time is 24: deadlines
// as time.Time cost the 1-node request-reply bench 16% of its rate.
type mono int64

// monoNow returns the monotonic time since epoch (never 0: epoch is in the
// past).
func monoNow() mono { return mono(time.Since(epoch)) | 1 }

// monoOf returns t as a mono (t must carry a monotonic reading, as every
// time.Now and context deadline does).
func monoOf(t time.Time) mono { return mono(t.Sub(epoch)) | 1 }

// time returns m as a time.Time, for the public API.
func (m mono) time() time.Time { return epoch.Add(time.Duration(m)) }
