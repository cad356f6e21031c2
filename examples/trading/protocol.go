package main

// The parent and its children talk over the children's standard streams:
// the parent writes one command per line to a child's stdin, and the child
// writes its state, one JSON nodeReport per line prefixed with reportPrefix,
// to its stdout (logs go to stderr). A child reports every reportInterval
// and after every command, so the parent always has a recent view of it.

import "time"

const (
	reportPrefix   = "@trading "
	reportInterval = 100 * time.Millisecond
)

// Commands the parent sends.
const (
	cmdStart  = "start"  // start sending orders
	cmdFeed   = "feed"   // start publishing prices (one node)
	cmdStop   = "stop"   // stop orders and the feed
	cmdVerify = "verify" // followed by a JSON map key -> publications: check every session got them all
)

// nodeReport is a child's state as the parent sees it.
type nodeReport struct {
	Node string `json:"node"`
	Addr string `json:"addr"`
	// Up: exchanges declared, handlers connected, sessions subscribed.
	Up bool `json:"up"`

	// The node's view of the cluster and of the exchanges' tables.
	Members    int    `json:"members"`
	Books      int    `json:"books"`       // handlers of "books"
	Engines    int    `json:"engines"`     // handlers of "matching"
	PriceNodes int    `json:"price_nodes"` // nodes with subscriptions to "prices"
	Leader     string `json:"leader"`      // node of the leader of "matching"

	// The engine's leadership as its OnLeader saw it: intervals of unix
	// nanoseconds, To 0 while it lasts; the leaders it was told of, in order.
	Leading     []interval  `json:"leading,omitempty"`
	LeadersSeen []string    `json:"leaders_seen,omitempty"`
	Engine      engineStats `json:"engine"`

	Sessions  map[string]int `json:"sessions"` // symbol -> sessions subscribed
	Delivered int64          `json:"delivered"`
	Disorder  int64          `json:"disorder"` // prices out of order or repeated

	Orders orderStats `json:"orders"`
	// Sticky maps each books table this node routed with (its handler ids,
	// joined) to symbol -> the books that answered.
	Sticky map[string]map[string][]string `json:"sticky,omitempty"`

	Feed *feedStats `json:"feed,omitempty"`

	Stopped  bool  `json:"stopped"`  // orders and feed stopped after cmdStop
	Verified bool  `json:"verified"` // cmdVerify done
	Lost     int64 `json:"lost"`     // prices sessions missed (after verify)
}

type interval struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// engineStats counts what one node's matching engine did.
type engineStats struct {
	Matched int64 `json:"matched"` // orders it matched
	Trades  int64 `json:"trades"`
	Refused int64 `json:"refused"` // orders it got while not leading
	First   int64 `json:"first"`   // unix nanoseconds of its first and last match
	Last    int64 `json:"last"`
}

// orderStats counts one node's order client.
type orderStats struct {
	Sent     int64 `json:"sent"`
	Matched  int64 `json:"matched"`
	Rejected int64 `json:"rejected"` // by the risk check (ErrRejected)
	Invalid  int64 `json:"invalid"`  // malformed, refused by the order desk
	Retried  int64 `json:"retried"`  // attempts that failed and were retried (failover)
	Failed   int64 `json:"failed"`   // orders that got no answer in time
	// Over counts orders over the risk limit; WrongRisk those the risk check
	// got wrong (an order over the limit accepted, or one under it rejected).
	Over      int64 `json:"over"`
	WrongRisk int64 `json:"wrong_risk"`
}

// feedStats is the feed's count, kept by the feed node.
type feedStats struct {
	Published map[string]int64 `json:"published"` // routing key -> publications
	// ByRemote maps the number of other nodes with subscribers when a price
	// was published to how many prices were published so and how many
	// network messages they cost.
	ByRemote map[int]*netCount `json:"by_remote"`
}

type netCount struct {
	Prices   int64 `json:"prices"`
	Messages int64 `json:"messages"`
}
