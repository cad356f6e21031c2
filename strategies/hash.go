package strategies

import "math/bits"

// The functions in this file decide where keys and members land on the sticky
// strategies' hash ring. Every node of a cluster must compute the same
// placement from the same members, so they are fixed, process-independent
// functions (hash/maphash is seeded per process and cannot be used). Changing
// any constant here reassigns keys between nodes running different versions:
// treat them as part of the wire format. TestStickyGolden pins them.

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
	// golden64 is 2^64 divided by the golden ratio, the increment of
	// splitmix64: it spreads consecutive integers across the whole ring.
	golden64 = 0x9e3779b97f4a7c15
)

// hashString is FNV-1a over the bytes of s followed by mix64. FNV-1a alone is
// fast and allocation-free on a string but mixes its high bits poorly, and the
// ring and the partition index both read the high bits; the finalizer fixes
// that.
func hashString(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return mix64(h)
}

// mix64 is the splitmix64 finalizer (Stafford's variant 13): a bijection on
// uint64 in which every input bit affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// vnodePoint is the ring position of virtual node v of the member whose ID
// hashes to id: splitmix64's sequence seeded with the ID hash.
func vnodePoint(id uint64, v int) uint64 {
	return mix64(id + uint64(v+1)*golden64)
}

// reduce maps a uniform 64-bit hash onto [0, n) by its high bits (Lemire's
// multiply-shift), which is a modulo without the division and works for any n.
// Partition p thus covers the ring arc [p*2^64/n, (p+1)*2^64/n).
func reduce(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// arcStart is the ring position where partition p of n begins, the least h
// with reduce(h, n) == p: ceil(p * 2^64 / n).
func arcStart(p, n int) uint64 {
	q, r := bits.Div64(uint64(p), 0, uint64(n))
	if r != 0 {
		q++
	}
	return q
}
