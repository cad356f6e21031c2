package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/bourse-go/bourse/cluster"
)

// tlsKeys are the keys of cluster.tls, in the order cluster.TLSFromFiles
// takes them.
var tlsKeys = [3]string{"cluster.tls.cert_file", "cluster.tls.key_file", "cluster.tls.ca_file"}

// tlsConfig reads the cluster.tls section: none of its keys, or all three,
// which it gives to cluster.TLSFromFiles. Relative paths are relative to the
// working directory, like the path given to Load. A file that cannot
// be read or parsed is reported on its key, naming the file.
func (p *parser) tlsConfig() *tls.Config {
	var paths, envs [3]string
	var set, missing []string
	for i, key := range tlsKeys {
		s, ok := p.nonEmpty(key)
		if !ok {
			missing = append(missing, key)
			continue
		}
		paths[i] = s
		_, envs[i] = p.get(key)
		if envs[i] != "" {
			set = append(set, key+" (from "+envs[i]+")")
		} else {
			set = append(set, key)
		}
	}
	if p.err != nil || len(set) == 0 {
		return nil
	}
	if len(missing) > 0 {
		verb := "are"
		if len(set) == 1 {
			verb = "is"
		}
		p.bad(missing[0], "", "missing, and %s %s set: give all three of cert_file, key_file and ca_file (or set %s), or none for plaintext",
			strings.Join(set, " and "), verb, envVar(missing[0]))
		return nil
	}
	cfg, err := cluster.TLSFromFiles(paths[0], paths[1], paths[2])
	if err == nil {
		return cfg
	}
	i, msg, cause := diagnoseTLS(paths)
	if i < 0 {
		// The files pass the checks below but the core refused them (or they
		// changed in between): report the core's words on the section.
		p.fail(&Error{Key: "cluster.tls", Problem: strings.TrimPrefix(err.Error(), cluster.ErrInvalidConfig.Error()+": "), Err: err}, false)
		return nil
	}
	if cause != nil {
		err = errors.Join(err, cause) // the *fs.PathError of an unreadable file
	}
	p.badCause(tlsKeys[i], envs[i], err, "%s", msg)
	return nil
}

// diagnoseTLS finds which of the cert, key and CA files cluster.TLSFromFiles
// could not use, and why: its index in tlsKeys (-1 when none of the checks
// fails), the problem naming the file, and the read error, if any.
func diagnoseTLS(paths [3]string) (int, string, error) {
	var data [3][]byte
	for i, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return i, fmt.Sprintf("cannot read %s: %s", path, unwrapPath(err)), err
		}
		data[i] = b
	}
	cert, ok := firstBlock(data[0], func(t string) bool { return t == "CERTIFICATE" })
	if !ok {
		return 0, fmt.Sprintf("no PEM certificate in %s", paths[0]), nil
	}
	if _, err := x509.ParseCertificate(cert.Bytes); err != nil {
		return 0, fmt.Sprintf("%s: %v", paths[0], err), nil
	}
	if _, ok := firstBlock(data[1], func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }); !ok {
		return 1, fmt.Sprintf("no PEM private key in %s", paths[1]), nil
	}
	if _, err := tls.X509KeyPair(data[0], data[1]); err != nil {
		return 1, fmt.Sprintf("%s (with the certificate of %s): %s", paths[1], paths[0], strings.TrimPrefix(err.Error(), "tls: ")), nil
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data[2]) {
		return 2, fmt.Sprintf("no PEM certificate in %s", paths[2]), nil
	}
	return -1, "", nil
}

// firstBlock returns the first PEM block of data whose type is wanted.
func firstBlock(data []byte, wanted func(string) bool) (*pem.Block, bool) {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, false
		}
		if wanted(b.Type) {
			return b, true
		}
	}
}
