package deploy_test

import (
	"strings"
	"testing"

	"github.com/bourse-go/bourse/cluster/deploy"
)

func TestLabelSyntax(t *testing.T) {
	keys := map[string]bool{
		"zone": true, "Zone": true, "z": true, "a.b-c_d": true, "bourse.io/zone": true, "a-b.c/x": true,
		strings.Repeat("k", 63): true, strings.Repeat("p", 63) + "." + strings.Repeat("p", 63) + "/k": true,
		"": false, "-zone": false, "zone-": false, "zo ne": false, "zöne": false, "/zone": false,
		"bourse.io/": false, "Bourse.io/zone": false, "bourse..io/zone": false, "-bourse.io/zone": false,
		"a/b/c": false, strings.Repeat("k", 64): false, strings.Repeat("p", 64) + "/k": false,
		strings.Repeat(strings.Repeat("p", 63)+".", 4) + "p/k": false, // prefix of 257
	}
	for k, ok := range keys {
		if got := deploy.CheckLabelKey(k) == ""; got != ok {
			t.Errorf("CheckLabelKey(%q) = %q, want valid=%v", k, deploy.CheckLabelKey(k), ok)
		}
	}
	values := map[string]bool{
		"eu": true, "EU-west_1.a": true, "7": true, strings.Repeat("v", 63): true,
		"": false, "eu west": false, "eu/west": false, ".eu": false, "eu_": false, strings.Repeat("v", 64): false,
	}
	for v, ok := range values {
		if got := deploy.CheckLabelValue(v) == ""; got != ok {
			t.Errorf("CheckLabelValue(%q) = %q, want valid=%v", v, deploy.CheckLabelValue(v), ok)
		}
	}
	if k, p := deploy.CheckLabels(map[string]string{"b": "", "a": "ok", "c": "-"}); k != "b" || !strings.HasPrefix(p, "value is empty") {
		t.Errorf("CheckLabels = %q, %q; want the first bad key in order, b, and its value's problem", k, p)
	}
	if k, p := deploy.CheckLabels(nil); k != "" || p != "" {
		t.Errorf("CheckLabels(nil) = %q, %q", k, p)
	}
}
