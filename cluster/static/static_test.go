package static_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/discoverytest"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/errs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		peers   []string
		want    []string
		wantErr string // substring; "" for success
	}{
		{name: "empty", peers: nil, want: []string{}},
		{name: "ipv4", peers: []string{"127.0.0.1:7000"}, want: []string{"127.0.0.1:7000"}},
		{name: "hostname", peers: []string{"node-a.example:1"}, want: []string{"node-a.example:1"}},
		{name: "ipv6", peers: []string{"[::1]:65535"}, want: []string{"[::1]:65535"}},
		{name: "duplicates dropped", peers: []string{"a:1", "b:2", "a:1"}, want: []string{"a:1", "b:2"}},
		{name: "missing port", peers: []string{"a:1", "host"}, wantErr: `static.Peers[1]: "host" is not host:port with a port in 1..65535: address host: missing port in address`},
		{name: "empty host", peers: []string{":7000"}, wantErr: `static.Peers[0]: ":7000" is not host:port with a port in 1..65535: empty host`},
		{name: "port zero", peers: []string{"a:0"}, wantErr: `static.Peers[0]: "a:0" is not host:port with a port in 1..65535: port 0 out of range 1..65535`},
		{name: "port too big", peers: []string{"a:65536"}, wantErr: `port 65536 out of range`},
		{name: "negative port", peers: []string{"a:-1"}, wantErr: `port -1 out of range`},
		{name: "named port", peers: []string{"a:http"}, wantErr: `port "http" is not a number`},
		{name: "empty entry", peers: []string{""}, wantErr: `static.Peers[0]: "" is not host:port with a port in 1..65535`},
		{name: "ipv6 without brackets", peers: []string{"::1:7000"}, wantErr: `too many colons`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := static.Parse(tt.peers)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = nil error, want %q", tt.peers, tt.wantErr)
				}
				if !errors.Is(err, static.ErrInvalidPeer) || !errors.Is(err, errs.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalidPeer and errs.ErrInvalid", err)
				}
				var fe *errs.FieldError
				if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "static.Peers[") {
					t.Errorf("error %v is not an *errs.FieldError naming the entry", err)
				}
				if !strings.HasPrefix(err.Error(), "bourse: ") {
					t.Errorf("error %q lacks the bourse: prefix", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				// New defers the same error to Start.
				err = static.New(tt.peers...).Start(context.Background(), cluster.Registration{}, func([]cluster.Peer) {
					t.Error("update called for an invalid list")
				})
				if !errors.Is(err, static.ErrInvalidPeer) {
					t.Errorf("New(...).Start error = %v, want ErrInvalidPeer", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.peers, err)
			}
			if got := d.Peers(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Peers() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStartReportsPeersOnceSynchronously(t *testing.T) {
	d := static.New("127.0.0.1:7001", "127.0.0.1:7002")
	var calls [][]cluster.Peer
	self := cluster.Registration{Cluster: "c", Node: "n", Host: "127.0.0.1", Port: 7000}
	if err := d.Start(context.Background(), self, func(p []cluster.Peer) { calls = append(calls, p) }); err != nil {
		t.Fatal(err)
	}
	want := [][]cluster.Peer{{{Address: "127.0.0.1:7001"}, {Address: "127.0.0.1:7002"}}}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("update calls = %v, want %v", calls, want)
	}
	if err := d.Start(context.Background(), self, func([]cluster.Peer) {}); !errors.Is(err, static.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	} else if !strings.HasPrefix(err.Error(), "bourse: static: ") {
		t.Errorf("second Start = %q, want the bourse: static: prefix", err)
	}
	for range 2 {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}
	if len(calls) != 1 {
		t.Errorf("update called %d times, want 1", len(calls))
	}
}

func TestStopWithoutStart(t *testing.T) {
	if err := static.New().Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	discoverytest.Run(t, "static", discoverytest.Harness{
		New: func(_ *testing.T, _ cluster.Registration, all []cluster.Registration) cluster.Discovery {
			return static.New(discoverytest.Addresses(all)...)
		},
		Failing: func(*testing.T) cluster.Discovery { return static.New("no port") },
	}, discoverytest.Features{})
}
