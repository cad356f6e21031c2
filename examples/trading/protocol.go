package main

// The parent and its children talk over the children's standard streams:
// the parent writes one command per line to a child's stdin, and the child
// writes its state, one JSON nodeReport per line prefixed with reportPrefix,
// to its stdout (logs go to stderr). A child reports every reportInterval
// and after every command, so the parent always has a recent view of it.

import (
	"time"

	"github.com/bourse-go/bourse/cluster/deploy"
)

const (
	reportPrefix   = "@trading "
	reportInterval = 100 * time.Millisecond
)

// The services trading.yaml lists, in the order the report shows them, and
// how many order books it asks for.
const (
	svcEngine     = "engine"
	svcFeed       = "market-data"
	svcBooks      = "books"
	svcDesk       = "desk"
	bookReplicas  = 6
	stateRunning  = string(deploy.StateRunning)
	stateStopping = string(deploy.StateStopping)
)

var services = []string{svcEngine, svcFeed, svcBooks, svcDesk}

// Commands the parent sends.
const (
	cmdAwait  = "await"  // followed by a number: wait until every service runs, then list the placements
	cmdStart  = "start"  // start sending orders; open the market (the node's feed publishes)
	cmdStop   = "stop"   // stop orders and the feed
	cmdVerify = "verify" // check every session got every price the live feeds published
)

// nodeReport is a child's state as the parent sees it.
type nodeReport struct {
	Node  string `json:"node"`
	Addr  string `json:"addr"`
	Venue string `json:"venue"`
	// Up: the node started from trading.yaml (exchanges declared, services
	// applied) and its sessions subscribed.
	Up bool `json:"up"`

	// The answer to the last cmdAwait: its number, how long Node.Await
	// took for every service (or why it failed), and then what runs where
	// (Node.Placements).
	Awaited    int         `json:"awaited"`
	AwaitTook  float64     `json:"await_took_ms"`
	AwaitErr   string      `json:"await_err,omitempty"`
	Placements []placement `json:"placements,omitempty"`

	// The node's view of the cluster and of the exchanges' tables.
	Members    int    `json:"members"`
	Books      int    `json:"books"`       // handlers of "books"
	Engines    int    `json:"engines"`     // handlers of "matching"
	Feeds      int    `json:"feeds"`       // handlers of "quotes"
	Desks      int    `json:"desks"`       // handlers of "orders"
	PriceNodes int    `json:"price_nodes"` // nodes with subscriptions to "prices"
	Leader     string `json:"leader"`      // node of the leader of "matching"

	// The engines the cluster ran on this node: each one's life (from its
	// construction to its Stop) and its leadership of "matching" as its
	// OnLeader saw it, intervals of unix nanoseconds, To 0 while it lasts.
	EngineLives []interval  `json:"engine_lives,omitempty"`
	Leading     []interval  `json:"leading,omitempty"`
	Engine      engineStats `json:"engine"`

	Sessions  map[string]int `json:"sessions"` // symbol -> sessions subscribed
	Delivered int64          `json:"delivered"`
	Disorder  int64          `json:"disorder"` // prices out of order or repeated

	Orders orderStats `json:"orders"`
	// Sticky maps each books table this node routed with (its handler ids,
	// joined) to symbol -> the books that answered.
	Sticky map[string]map[string][]string `json:"sticky,omitempty"`
	// StickyLast maps each of those tables to when this node last routed
	// with it (unix nanoseconds), so the report can put them in order.
	StickyLast map[string]int64 `json:"sticky_last,omitempty"`

	Feed *feedStats `json:"feed,omitempty"`

	Stopped  bool     `json:"stopped"`  // orders and feed stopped after cmdStop
	Verified bool     `json:"verified"` // cmdVerify done
	Venues   []string `json:"venues"`   // the venues whose feeds answered cmdVerify
	Lost     int64    `json:"lost"`     // prices of those venues sessions missed (after verify)
	Problem  string   `json:"problem"`  // what went wrong on the node, for the report
}

// placement is one instance of a service, as Node.Placements lists it.
type placement struct {
	Service string `json:"service"`
	Node    string `json:"node"`
	Key     string `json:"key"`
	State   string `json:"state"`
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

// feedStats is a venue feed's count, kept by its node.
type feedStats struct {
	Venue     string           `json:"venue"`
	Err       string           `json:"err,omitempty"` // why it stopped publishing early
	Published map[string]int64 `json:"published"`     // routing key -> publications
	// ByRemote maps the number of other nodes with subscribers when a price
	// was published to how many prices were published so and how many
	// network messages they cost.
	ByRemote map[int]*netCount `json:"by_remote"`
}

type netCount struct {
	Prices   int64 `json:"prices"`
	Messages int64 `json:"messages"`
}
