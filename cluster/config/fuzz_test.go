package config_test

import (
	"errors"
	"io"
	"testing"

	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/internal/tlstest"
)

// FuzzParse feeds Parse arbitrary bytes: it must not panic, and must return
// either a File the core accepts or an *Error wrapping ErrInvalid.
func FuzzParse(f *testing.F) {
	_, tlsFiles := tlstest.WriteFiles(f)
	for _, seed := range []string{
		withTLS("cert_file: "+quote(tlsFiles.Cert), "key_file: "+quote(tlsFiles.Key), "ca_file: "+quote(tlsFiles.CA)),
		withTLS("cert_file: "+quote(tlsFiles.Cert), "ca_file: "+quote(tlsFiles.CA)),
		withTLS("cert_file: "+quote(tlsFiles.Key), "key_file: "+quote(tlsFiles.Cert), "ca_file: "+quote(tlsFiles.Key)),
		"cluster: {tls: {cert_file: nope.pem, key_file: nope-key.pem, ca_file: ca.pem}}\n",
		"cluster: {tls: {cert-file: a, key_file: \"\", ca_file: [c]}}\n",
		"cluster: {tls: {}}\n",
		base,
		withDiscovery(`{provider: static, peers: ["127.0.0.1:7101", "127.0.0.1:7102"]}`),
		withDiscovery(`{provider: consul, consul: {address: 127.0.0.1:8500, ttl: 3s, token: t}}`),
		"node: {port: 70000}\n",
		"node: {port: 7101, data_port: 7102}\n",
		"node: {port: 7101, data_port: 7101}\n",
		"node: {data_port: -1}\n",
		"node: {data_port: -2}\n",
		"node: {labels: {zone: eu, bourse.io/disk: ssd, n: 1}}\n",
		"node: {labels: {zone: , Zone: [x], -a: b}}\n",
		"node: {labels: &l {a: b}}\ncluster: {name: *l}\n",
		servicesYAML,
		"services: [{name: s, exchange: x, kind: k, mode: replicas, total: 3, max_per_node: 1, selector: {match_labels: {a.b/c: d}, match_expressions: [{key: z, op: NotIn, values: [1, 2]}]}}]\n",
		"services: [{name: s, exchange: x, kind: k, mode: node-singleton, params: {A: [1]}}, {name: s}]\n",
		"services: [{selector: {match_expressions: [{op: in}, ~]}}, 7]\n",
		"exchanges: [{name: a, kind: req-resp, strategy: sticky, params: {load_factor: 2, vnodes: 8}}]\n",
		"exchanges: [{name: a, kind: pub-sub}, {name: a, kind: pub-sub}]\n",
		"log: {level: debug, format: json}\nbroker: {max_redirects: 3}\n",
		"a: &x [*x]\n",
		"node:\n  name: x\n host: y\n",
		"- 1\n- 2\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := config.Parse(data, "fuzz.yaml", config.WithLogOutput(io.Discard))
		if err != nil {
			var e *config.Error
			if !errors.Is(err, config.ErrInvalid) || !errors.As(err, &e) || e.File != "fuzz.yaml" || e.Problem == "" {
				t.Fatalf("error %q (%T) is not an *Error wrapping ErrInvalid", err, err)
			}
			return
		}
		if err := file.Cluster.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid cluster config: %v", err)
		}
		seen := map[string]bool{}
		for _, s := range file.Exchanges {
			if err := s.Validate(); err != nil {
				t.Fatalf("Parse returned an invalid spec: %v", err)
			}
			if seen[s.Name] {
				t.Fatalf("Parse returned exchange %q twice", s.Name)
			}
			seen[s.Name] = true
		}
		services := map[string]bool{}
		for _, s := range file.Services {
			if err := s.Validate(); err != nil {
				t.Fatalf("Parse returned an invalid service: %v", err)
			}
			if services[s.Name] {
				t.Fatalf("Parse returned service %q twice", s.Name)
			}
			services[s.Name] = true
		}
	})
}
