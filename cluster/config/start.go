package config

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/errs"
)

// Start starts the node f describes (cluster.Start with f.Cluster),
// declares f.Exchanges on its broker, in order, and applies f.Services to
// the cluster (Node.Apply: every node started from the same file applies
// the same specs, a no-op after the first; Node.Await waits for one to
// run). If a declaration fails, it stops the node and returns the
// declaration's error, naming the exchange, joined with Stop's; a service
// that cannot be applied (a kind this node lacks, a service of that name
// deployed with another spec) is an *Error naming its key. ctx bounds the start and the declarations and is not
// kept. Stop the node with Node.Stop.
//
// A File starts one node: its Discovery serves one node once.
func Start(ctx context.Context, f *File) (*cluster.Node, error) {
	n, err := cluster.Start(ctx, f.Cluster)
	if err != nil {
		// A setting that only failed as the node started (metrics.listen
		// on an address this host does not have) is named by its key.
		var fe *errs.FieldError
		if errors.As(err, &fe) {
			if key := keyOf(fe.Field, -1); key != "" {
				return nil, &Error{File: f.Name, Key: key, Problem: "start node: " + fe.Problem, Err: err}
			}
		}
		return nil, fmt.Errorf("bourse: %s: start node: %w", f.Name, err)
	}
	for i, s := range f.Exchanges {
		if err := n.Broker().Declare(ctx, s); err != nil {
			err = fmt.Errorf("bourse: %s: exchanges[%d] (%q): declare: %w", f.Name, i, s.Name, err)
			return nil, errors.Join(err, n.Stop(ctx))
		}
	}
	for i, s := range f.Services {
		if err := n.Apply(ctx, s); err != nil {
			err = &Error{File: f.Name, Key: fmt.Sprintf("services[%d]", i), Problem: fmt.Sprintf("%q: %v", s.Name, strings.TrimPrefix(err.Error(), "bourse: ")), Err: err}
			return nil, errors.Join(err, n.Stop(ctx))
		}
	}
	return n, nil
}
