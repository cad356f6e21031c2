// Package tlstest makes throwaway certificates for tests of bourse's TLS:
// a CA and a certificate it signs for 127.0.0.1 and localhost, good for
// server and client authentication, so that one *tls.Config serves a node as
// both (mutual TLS, as cluster.Config.TLS expects).
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Files are PEM files of a CA and of one node certificate it signed.
type Files struct {
	CA, Cert, Key string
}

// Config returns a mutual-TLS configuration for a node: a certificate signed
// by a new CA, which the configuration trusts as servers' and clients' CA.
// Each call makes a new CA: two configurations from two calls do not trust
// each other.
func Config(t testing.TB) *tls.Config {
	t.Helper()
	cfg, _ := configAndFiles(t, false)
	return cfg
}

// WriteFiles writes the CA, the node certificate and its key as PEM files in
// a temporary directory, and returns their paths with the configuration they
// make.
func WriteFiles(t testing.TB) (*tls.Config, Files) {
	t.Helper()
	return configAndFiles(t, true)
}

func configAndFiles(t testing.TB, write bool) (*tls.Config, Files) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bourse test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "bourse test node"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12,
	}
	var files Files
	if write {
		dir := t.TempDir()
		files = Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "node.pem"), Key: filepath.Join(dir, "node-key.pem")}
		for path, block := range map[string]*pem.Block{
			files.CA:   {Type: "CERTIFICATE", Bytes: caDER},
			files.Cert: {Type: "CERTIFICATE", Bytes: der},
			files.Key:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
		} {
			if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return cfg, files
}
