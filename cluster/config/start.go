package config

import (
	"context"
	"errors"
	"fmt"

	"github.com/bourse-go/bourse/cluster"
)

// Start starts the node f describes (cluster.Start with f.Cluster) and
// declares f.Exchanges on its broker, in order. If a declaration fails, it
// stops the node and returns the declaration's error, naming the exchange,
// joined with Stop's. ctx bounds the start and the declarations and is not
// kept. Stop the node with Node.Stop.
//
// A File starts one node: its Discovery serves one node once.
func Start(ctx context.Context, f *File) (*cluster.Node, error) {
	n, err := cluster.Start(ctx, f.Cluster)
	if err != nil {
		return nil, fmt.Errorf("bourse: %s: start node: %w", f.Name, err)
	}
	for i, s := range f.Exchanges {
		if err := n.Broker().Declare(ctx, s); err != nil {
			err = fmt.Errorf("bourse: %s: exchanges[%d] (%q): declare: %w", f.Name, i, s.Name, err)
			return nil, errors.Join(err, n.Stop(ctx))
		}
	}
	return n, nil
}
