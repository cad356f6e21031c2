package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bourse-go/bourse/exchange"
	"go.uber.org/goleak"
)

// TestEndpoint serves a recorded request's count and duration, and stops
// with nothing left running; Shutdown is idempotent.
func TestEndpoint(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	in := New()
	ep, err := Listen("127.0.0.1:0", in)
	if err != nil {
		t.Fatal(err)
	}
	stop, err := in.Observe(ep.Provider(), noExchanges{})
	if err != nil {
		t.Fatal(err)
	}
	in.Sent("orders", exchange.OpRequest, 40*time.Microsecond, nil)
	resp, err := http.Get("http://" + ep.Addr() + Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`messaging_client_sent_messages_total{messaging_destination_name="orders",messaging_operation_name="request",messaging_system="bourse"`,
		`messaging_client_operation_duration_seconds_bucket{messaging_destination_name="orders",messaging_operation_name="request",messaging_system="bourse",otel_scope_name="github.com/bourse-go/bourse/data-path",otel_scope_version="",le="5e-05"} 1`,
	} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, lacks %s in:\n%s", Path, resp.Status, want, body)
		}
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
	ctx := context.Background()
	if err := ep.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := ep.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}
