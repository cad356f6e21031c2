package exchange

import (
	"testing"
	"time"
)

func TestCallOptionsApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []CallOption
		want callOptions
	}{
		{"none", nil, callOptions{}},
		{"zero value does nothing", []CallOption{{}}, callOptions{}},
		{"each", []CallOption{WithKey("k"), WithServiceTag("eu"), WithTag("t"), WithTimeout(time.Second)},
			callOptions{key: "k", serviceTag: "eu", tag: "t", timeout: time.Second}},
		{"the last of a kind wins", []CallOption{WithKey("a"), WithTimeout(time.Second), WithKey("b"), WithTimeout(0)},
			callOptions{key: "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o callOptions
			o.apply(tc.opts)
			if o != tc.want {
				t.Fatalf("got %+v, want %+v", o, tc.want)
			}
		})
	}
}

// A call's options cost it nothing on the heap.
func TestCallOptionsAllocateNothing(t *testing.T) {
	opts := []CallOption{WithKey("k"), WithTimeout(time.Second)}
	var sink time.Duration
	if n := testing.AllocsPerRun(100, func() {
		var o callOptions
		o.apply(opts)
		sink += o.timeout
	}); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
	_ = sink
}
