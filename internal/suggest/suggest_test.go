package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"host", "port", "round-robin", "Consensus"}
	tests := []struct{ in, want string }{
		{"hots", "host"}, // a swap is one edit
		{"prot", "port"}, // idem
		{"round-robn", "round-robin"},
		{"CONSENSUS", "Consensus"}, // case is ignored
		{"xy", ""},                 // too short for 1 edit out of 2
		{"cluster", ""},            // far from everything
	}
	for _, tt := range tests {
		if got := Closest(tt.in, known); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if d := Distance("abc", "acb"); d != 1 {
		t.Errorf("Distance(abc, acb) = %d, want 1", d)
	}
}
