package metrics

import (
	"cmp"
	"slices"
	"time"

	"github.com/bourse-go/bourse/exchange"
)

// NumBuckets is the number of buckets of Totals.Buckets: one per bound of
// DurationBounds, then one above the last.
const NumBuckets = len(durationBounds) + 1

// DurationBounds returns the upper bounds, in seconds, of the duration
// histograms' buckets (bucket i holds durations up to bound i, the last one
// those above every bound).
func DurationBounds() []float64 { return slices.Clone(durationBounds[:]) }

// Totals are the calls of one operation on one exchange since New, for
// readers other than the exporter (the status page computes rates and
// latencies from the difference of two of them).
type Totals struct {
	Exchange string
	Op       exchange.Operation
	// Calls counts the calls, Failed those that returned an error:
	// exactly.
	Calls, Failed uint64
	// Sum is the sum of the calls' durations, and Buckets count them by
	// DurationBounds: of the timed calls, weighted (exchange.SampleOneIn,
	// SampleBelow: calls faster than 50 µs are timed one in 8), so the
	// buckets' total estimates Calls.
	Sum     time.Duration
	Buckets [NumBuckets]uint64
}

// Totals returns the totals of each exchange and operation that had a call,
// sorted by exchange then operation. It reads the counters without a lock:
// a call that ends meanwhile may be counted in some fields and not yet in
// others. Safe for concurrent use.
func (in *Instruments) Totals() []Totals {
	var out []*Totals
	type key struct {
		name string
		op   exchange.Operation
	}
	seen := map[key]*Totals{}
	add := func(name string, op exchange.Operation, m *measurement, failed bool) {
		s := m.read()
		n := uint64(s.calls)
		if n == 0 {
			return
		}
		k := key{name, op}
		t := seen[k]
		if t == nil {
			t = &Totals{Exchange: name, Op: op}
			seen[k] = t
			out = append(out, t)
		}
		t.Calls += n
		if failed {
			t.Failed += n
		}
		t.Sum += s.sum
		for i, c := range s.buckets {
			t.Buckets[i] += c
		}
	}
	in.exchanges.Range(func(k, v any) bool {
		name, em := k.(string), v.(*exchangeMeasurements)
		for op, m := range em.ok {
			add(name, exchange.Operation(op), m, false)
		}
		em.failed.Range(func(k, v any) bool {
			add(name, k.(failKey).op, v.(*measurement), true)
			return true
		})
		return true
	})
	res := make([]Totals, len(out))
	for i, t := range out {
		res[i] = *t
	}
	slices.SortFunc(res, func(a, b Totals) int {
		return cmp.Or(cmp.Compare(a.Exchange, b.Exchange), cmp.Compare(a.Op, b.Op))
	})
	return res
}
