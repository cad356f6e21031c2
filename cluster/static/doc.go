// Package static is the embedded discovery of bourse: a fixed list of peer
// addresses, for one host or a LAN, needing no external service.
//
// The list need not be complete. Discovery only tells a node where to send
// its first heartbeats; a node that hears from a peer it was not told of
// accepts it, so if A lists B and B lists nobody, they still see each other.
//
//	d, err := static.Parse([]string{"10.0.0.1:7000", "10.0.0.2:7000"})
//	n, err := cluster.Start(ctx, cluster.Config{..., Discovery: d})
//
// A malformed address is an *errs.FieldError naming the entry
// ("static.Peers[1]") that wraps ErrInvalidPeer and errs.ErrInvalid, as
// every bourse configuration error does.
package static
