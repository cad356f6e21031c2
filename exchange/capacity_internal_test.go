package exchange

import (
	"testing"
	"time"
)

// An advert counts for AdvertTTL, less this node's sends since; a handler
// that appeared late ramps up; no advert is unknown, never zero.
func TestAdvertEstimate(t *testing.T) {
	now := mono(time.Hour)
	for _, tt := range []struct {
		name     string
		a        func() *advert
		at       mono
		want     int
		wantKnow bool
	}{
		{"never heard", func() *advert { return &advert{limit: 4} }, now, 0, false},
		{"fresh", func() *advert { a := &advert{limit: 4}; a.heard(3, now); return a }, now + mono(time.Millisecond), 3, true},
		{"less own sends", func() *advert { a := &advert{limit: 4}; a.heard(3, now); a.sent.Add(2); return a }, now, 1, true},
		{"full, queued", func() *advert { a := &advert{limit: 4}; a.heard(-5, now); return a }, now, -5, true},
		{"too old", func() *advert { a := &advert{limit: 4}; a.heard(3, now); return a }, now + mono(AdvertTTL) + 1, 0, false},
		{"ramping, just born", func() *advert { a := &advert{limit: 100, born: now}; a.heard(100, now); return a }, now, 1, true},
		{"ramping, half way", func() *advert { a := &advert{limit: 100, born: now - mono(RampUp/2)}; a.heard(100, now); return a }, now, 50, true},
		{"ramped", func() *advert { a := &advert{limit: 100, born: now - mono(RampUp)}; a.heard(100, now); return a }, now, 100, true},
	} {
		got, ok := tt.a().estimate(tt.at)
		if got != tt.want || ok != tt.wantKnow {
			t.Errorf("%s: estimate = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantKnow)
		}
	}
}

func TestLoadAcquireRelease(t *testing.T) {
	l := newLoad(2, 1)
	for i := 0; i < 3; i++ {
		if !l.acquire() {
			t.Fatalf("acquire %d refused", i)
		}
	}
	if l.acquire() {
		t.Fatal("acquire beyond limit and queue accepted")
	}
	if f := l.free(); f != -1 {
		t.Fatalf("free = %d, want -1 (one waiting)", f)
	}
	l.release()
	if !l.acquire() {
		t.Fatal("acquire after release refused")
	}
}
