package config

import (
	"crypto/tls"
	"errors"
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
	var fe *cluster.TLSFileError
	switch {
	case err == nil:
		return cfg
	case errors.As(err, &fe):
		p.badCause(tlsKeys[fe.File], envs[fe.File], err, "%s", fe.Problem)
	default:
		p.fail(&Error{Key: "cluster.tls", Problem: err.Error(), Err: err}, false)
	}
	return nil
}
