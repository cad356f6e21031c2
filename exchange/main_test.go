package exchange_test

import (
	"testing"

	"github.com/bourse-go/bourse/internal/leakcheck"
	"go.uber.org/goleak"
)

// Every test stops the hubs and actor systems it starts; no goroutine may be
// left behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }
