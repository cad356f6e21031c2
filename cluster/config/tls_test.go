package config_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/config"
	"github.com/bourse-go/bourse/internal/tlstest"
)

// withTLS returns base with a cluster.tls section on line 7 holding lines
// (each "key: value"), one per line from line 8.
func withTLS(lines ...string) string {
	s := "  tls:\n"
	for _, l := range lines {
		s += "    " + l + "\n"
	}
	return strings.Replace(base, "  suspect_after: 1s\n", "  suspect_after: 1s\n"+s, 1)
}

func TestParseTLS(t *testing.T) {
	want, files := tlstest.WriteFiles(t)
	_, other := tlstest.WriteFiles(t) // a key that does not go with files.Cert
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nope := filepath.Join(dir, "nope.pem")
	all := func(cert, key, ca string) []string {
		return []string{"cert_file: " + quote(cert), "key_file: " + quote(key), "ca_file: " + quote(ca)}
	}
	envAll := map[string]string{
		"BOURSE_CLUSTER_TLS_CERT_FILE": files.Cert,
		"BOURSE_CLUSTER_TLS_KEY_FILE":  files.Key,
		"BOURSE_CLUSTER_TLS_CA_FILE":   files.CA,
	}

	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		chdir string // the working directory, when not the package's
		// For a valid file: whether Cluster.TLS is set.
		tls bool
		// For an error: its key, line and substrings.
		key  string
		line int
		want []string
		is   []error // errors the error must match
	}{
		{name: "no section", yaml: base},
		{name: "empty section", yaml: withTLS(), tls: false},
		{name: "empty mapping", yaml: strings.Replace(base, "suspect_after: 1s", "suspect_after: 1s\n  tls: {}", 1)},
		{name: "all three files", yaml: withTLS(all(files.Cert, files.Key, files.CA)...), tls: true},
		{name: "flow mapping, any case", yaml: strings.Replace(base, "suspect_after: 1s",
			fmt.Sprintf("suspect_after: 1s\n  TLS: {Cert_File: %s, key_file: %s, CA_FILE: %s}", quote(files.Cert), quote(files.Key), quote(files.CA)), 1), tls: true},
		{
			name: "relative paths are relative to the working directory",
			yaml: withTLS(all(filepath.Base(files.Cert), filepath.Base(files.Key), "./"+filepath.Base(files.CA))...), chdir: filepath.Dir(files.Cert),
			tls: true,
		},
		{name: "environment only", yaml: base, env: envAll, tls: true},
		{name: "environment over the file", yaml: withTLS(all(nope, nope, nope)...), env: envAll, tls: true},
		{
			name: "environment over one key",
			yaml: withTLS(all(files.Cert, files.Key, nope)...),
			env:  map[string]string{"BOURSE_CLUSTER_TLS_CA_FILE": files.CA},
			tls:  true,
		},
		{
			name: "empty environment variables are ignored",
			yaml: withTLS(all(files.Cert, files.Key, files.CA)...),
			env:  map[string]string{"BOURSE_CLUSTER_TLS_CERT_FILE": "", "BOURSE_CLUSTER_TLS_KEY_FILE": ""},
			tls:  true,
		},
		{
			name: "missing key file",
			yaml: withTLS("cert_file: "+quote(files.Cert), "ca_file: "+quote(files.CA)),
			key:  "cluster.tls.key_file", line: 7,
			want: []string{"missing, and cluster.tls.cert_file and cluster.tls.ca_file are set: give all three of cert_file, key_file and ca_file (or set BOURSE_CLUSTER_TLS_KEY_FILE), or none for plaintext"},
		},
		{
			name: "only the CA",
			yaml: withTLS("ca_file: " + quote(files.CA)),
			key:  "cluster.tls.cert_file", line: 7,
			want: []string{"missing, and cluster.tls.ca_file is set:"},
		},
		{
			name: "missing with the others from the environment",
			yaml: base,
			env:  map[string]string{"BOURSE_CLUSTER_TLS_CERT_FILE": files.Cert, "BOURSE_CLUSTER_TLS_KEY_FILE": files.Key},
			key:  "cluster.tls.ca_file", line: 3, // no section: the line of cluster
			want: []string{"missing, and cluster.tls.cert_file (from BOURSE_CLUSTER_TLS_CERT_FILE) and cluster.tls.key_file (from BOURSE_CLUSTER_TLS_KEY_FILE) are set", "(or set BOURSE_CLUSTER_TLS_CA_FILE)"},
		},
		{
			name: "empty path",
			yaml: withTLS(all(files.Cert, "", files.CA)...),
			key:  "cluster.tls.key_file", line: 9,
			want: []string{"is empty"},
		},
		{
			name: "unreadable certificate",
			yaml: withTLS(all(nope, files.Key, files.CA)...),
			key:  "cluster.tls.cert_file", line: 8,
			want: []string{"cannot read " + nope + ": no such file or directory"},
			is:   []error{fs.ErrNotExist, cluster.ErrInvalidConfig},
		},
		{
			name: "unreadable CA from the environment",
			yaml: withTLS(all(files.Cert, files.Key, files.CA)...),
			env:  map[string]string{"BOURSE_CLUSTER_TLS_CA_FILE": nope},
			key:  "cluster.tls.ca_file", line: 0,
			want: []string{"from BOURSE_CLUSTER_TLS_CA_FILE: cannot read " + nope + ": no such file or directory"},
			is:   []error{fs.ErrNotExist},
		},
		{
			name: "a directory",
			yaml: withTLS(all(files.Cert, dir, files.CA)...),
			key:  "cluster.tls.key_file", line: 9,
			want: []string{"cannot read " + dir + ": is a directory"},
		},
		{
			name: "certificate that is not PEM",
			yaml: withTLS(all(notPEM, files.Key, files.CA)...),
			key:  "cluster.tls.cert_file", line: 8,
			want: []string{"no PEM certificate in " + notPEM},
			is:   []error{cluster.ErrInvalidConfig},
		},
		{
			name: "a key in place of the certificate",
			yaml: withTLS(all(files.Key, files.Key, files.CA)...),
			key:  "cluster.tls.cert_file", line: 8,
			want: []string{"no PEM certificate in " + files.Key},
		},
		{
			name: "key that is not PEM",
			yaml: withTLS(all(files.Cert, notPEM, files.CA)...),
			key:  "cluster.tls.key_file", line: 9,
			want: []string{"no PEM private key in " + notPEM},
		},
		{
			name: "key of another certificate",
			yaml: withTLS(all(files.Cert, other.Key, files.CA)...),
			key:  "cluster.tls.key_file", line: 9,
			want: []string{other.Key + " (with the certificate of " + files.Cert + "): private key does not match public key"},
		},
		{
			name: "CA that is not PEM",
			yaml: withTLS(all(files.Cert, files.Key, notPEM)...),
			key:  "cluster.tls.ca_file", line: 10,
			want: []string{"no PEM certificate in " + notPEM},
		},
		{
			name: "CA that is not PEM from the environment",
			yaml: base,
			env:  map[string]string{"BOURSE_CLUSTER_TLS_CERT_FILE": files.Cert, "BOURSE_CLUSTER_TLS_KEY_FILE": files.Key, "BOURSE_CLUSTER_TLS_CA_FILE": notPEM},
			key:  "cluster.tls.ca_file", line: 0,
			want: []string{"from BOURSE_CLUSTER_TLS_CA_FILE: no PEM certificate in " + notPEM},
		},
		{
			name: "misspelt key",
			yaml: withTLS("cert-file: "+quote(files.Cert), "key_file: "+quote(files.Key), "ca_file: "+quote(files.CA)),
			key:  "cluster.tls.cert-file", line: 8,
			want: []string{"unknown key (known: ca_file, cert_file, key_file)", `did you mean "cert_file"?`},
		},
		{
			name: "section that is not a mapping",
			yaml: strings.Replace(base, "suspect_after: 1s", "suspect_after: 1s\n  tls: "+quote(files.Cert), 1),
			key:  "cluster.tls", line: 7,
			want: []string{"want a mapping with keys ca_file, cert_file, key_file, got the string"},
		},
		{
			name: "a list of files",
			yaml: withTLS("cert_file: ["+quote(files.Cert)+"]", "key_file: "+quote(files.Key), "ca_file: "+quote(files.CA)),
			key:  "cluster.tls.cert_file", line: 8,
			want: []string{"want a single value, got a list"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.chdir != "" {
				t.Chdir(tt.chdir)
			}
			f, err := config.Parse([]byte(tt.yaml), "node.yaml", config.WithLogOutput(io.Discard))
			if tt.key != "" {
				if err == nil {
					t.Fatalf("Parse succeeded (TLS %v), want an error", f.Cluster.TLS != nil)
				}
				checkError(t, err, "node.yaml", tt.key, tt.line, tt.want...)
				for _, target := range tt.is {
					if !errors.Is(err, target) {
						t.Errorf("error does not match %v", target)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := f.Cluster.TLS
			if !tt.tls {
				if got != nil {
					t.Errorf("Cluster.TLS is set, want nil")
				}
				return
			}
			checkTLS(t, got, want)
		})
	}
}

// checkTLS checks that got is the mutual-TLS configuration TLSFromFiles
// makes of want's files.
func checkTLS(t *testing.T, got, want *tls.Config) {
	t.Helper()
	if got == nil {
		t.Fatal("Cluster.TLS is nil")
	}
	if len(got.Certificates) != 1 || len(got.Certificates[0].Certificate) != 1 ||
		string(got.Certificates[0].Certificate[0]) != string(want.Certificates[0].Certificate[0]) {
		t.Errorf("Cluster.TLS does not hold the node's certificate")
	}
	if got.RootCAs == nil || !got.RootCAs.Equal(want.RootCAs) || got.ClientCAs == nil || !got.ClientCAs.Equal(want.ClientCAs) {
		t.Errorf("Cluster.TLS does not trust the CA both ways")
	}
	if got.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("ClientAuth = %v, want RequireAndVerifyClientCert", got.ClientAuth)
	}
}

// Load builds TLS as Parse does.
func TestLoadTLS(t *testing.T) {
	want, files := tlstest.WriteFiles(t)
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(withTLS("cert_file: "+quote(files.Cert), "key_file: "+quote(files.Key), "ca_file: "+quote(files.CA))), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(path, config.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	checkTLS(t, f.Cluster.TLS, want)
	if err := f.Cluster.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// quote makes s a YAML double-quoted string (Go's quoting of the characters
// a path holds is YAML's).
func quote(s string) string { return fmt.Sprintf("%q", s) }
