package strategies

import (
	"fmt"
	"testing"
)

// The hash functions place keys and members for every node of a cluster; a
// change to them reassigns keys between nodes of different versions. These
// values pin them (FNV-1a of "" is the offset basis 0xcbf29ce484222325,
// before mixing).
func TestHashGolden(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xf52a15e9a9b5e89b},
		{"a", 0x2c0bdbf481420f8},
		{"user-42", 0x7a1596f0e94b5793},
	}
	for _, tt := range tests {
		if got := hashString(tt.in); got != tt.want {
			t.Errorf("hashString(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
	if got, want := vnodePoint(hashString("h-00"), 7), uint64(0xc5078f66014ee3d5); got != want {
		t.Errorf("vnodePoint = %#x, want %#x", got, want)
	}
}

func TestReduceMatchesArcStart(t *testing.T) {
	for _, n := range []int{1, 3, 1000, 16384, MaxPartitions} {
		for _, p := range []int{0, 1, n / 2, n - 2, n - 1} {
			if p < 0 || p >= n {
				continue
			}
			start := arcStart(p, n)
			if got := reduce(start, n); got != p {
				t.Errorf("n=%d: reduce(arcStart(%d)) = %d", n, p, got)
			}
			if p > 0 {
				if got := reduce(start-1, n); got != p-1 {
					t.Errorf("n=%d: reduce(arcStart(%d)-1) = %d, want %d", n, p, got, p-1)
				}
			}
		}
		if got := reduce(^uint64(0), n); got != n-1 {
			t.Errorf("n=%d: reduce(max) = %d", n, got)
		}
	}
}

func TestCapacity(t *testing.T) {
	tests := []struct {
		lf       float64
		parts, n int
		want     int32
	}{
		{1.25, 16384, 10, 2048},
		{1.25, 16384, 11, 1862}, // 1861.8...
		{1.25, 16384, 1, 16384},
		{1.25, 4, 10, 1},
		{1.0001, 10, 10, 2},
		{1e300, 16384, 3, 16384},
		{2, 7, 3, 5},
	}
	for _, tt := range tests {
		got := capacity(tt.lf, tt.parts, tt.n)
		if got != tt.want {
			t.Errorf("capacity(%v, %d, %d) = %d, want %d", tt.lf, tt.parts, tt.n, got, tt.want)
		}
		if int(got)*tt.n < tt.parts {
			t.Errorf("capacity(%v, %d, %d) = %d cannot hold every partition", tt.lf, tt.parts, tt.n, got)
		}
	}
}

// assign never gives a member more than its capacity, whatever the shape of
// the group, and every partition gets an owner.
func TestAssignBound(t *testing.T) {
	tests := []StickyConfig{
		{LoadFactor: 1.25, Partitions: 16384, VNodes: 256},
		{LoadFactor: 1.01, Partitions: 16384, VNodes: 256},
		{LoadFactor: 1.1, Partitions: 1000, VNodes: 1},
		{LoadFactor: 3, Partitions: 64, VNodes: 8},
		{LoadFactor: 1.25, Partitions: 5, VNodes: 4},
	}
	for _, cfg := range tests {
		for _, n := range []int{2, 3, 10, 50, 200} {
			t.Run(fmt.Sprintf("lf=%v,P=%d,V=%d,n=%d", cfg.LoadFactor, cfg.Partitions, cfg.VNodes, n), func(t *testing.T) {
				ms := make([]Member, n)
				for i := range ms {
					ms[i].ID = fmt.Sprintf("member-%d", i)
				}
				owners := assign(ms, cfg)
				if len(owners) != cfg.Partitions {
					t.Fatalf("%d owners, want %d", len(owners), cfg.Partitions)
				}
				limit := capacity(cfg.LoadFactor, cfg.Partitions, n)
				load := make([]int32, n)
				for _, o := range owners {
					if o < 0 || int(o) >= n {
						t.Fatalf("owner %d of %d members", o, n)
					}
					load[o]++
				}
				for i, l := range load {
					if l > limit {
						t.Fatalf("member %d owns %d partitions, capacity %d", i, l, limit)
					}
				}
			})
		}
	}
}
