package status

// The JSON documents the endpoints serve. Field names are snake_case;
// durations are in milliseconds (float), rates per second, counters since
// the node started. docs/status.md lists them.

// Document is PathStatus: everything the page shows, read at one time.
type Document struct {
	Time      string        `json:"time"` // RFC 3339, with milliseconds
	Node      NodeDoc       `json:"node"`
	Members   []MemberDoc   `json:"members"`
	Exchanges []ExchangeDoc `json:"exchanges"`
	Link      LinkDoc       `json:"link"`
}

// NodeDoc is PathNode: the node that serves the page.
type NodeDoc struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Data        string `json:"data,omitempty"`
	Incarnation uint64 `json:"incarnation"`
	Quorum      bool   `json:"quorum"`
	// Interval is the sampler's period: rates are over the last one.
	IntervalMS float64 `json:"interval_ms"`
	UptimeS    float64 `json:"uptime_s"`
}

// MemberDoc is one member as this node knows it (PathMembers): the live
// ones, and those seen since the page's server started that went down.
type MemberDoc struct {
	Node        string            `json:"node"`
	Address     string            `json:"address"`
	Data        string            `json:"data,omitempty"`
	Incarnation uint64            `json:"incarnation"`
	Labels      map[string]string `json:"labels,omitempty"`
	Self        bool              `json:"self"`
	// Alive is false once the member left the live set; Since is when it
	// entered its state (RFC 3339), as this server noticed.
	Alive bool   `json:"alive"`
	Since string `json:"since"`
}

// ExchangeDoc is one exchange declared on this node (PathExchanges).
type ExchangeDoc struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // "req-resp" or "pub-sub"
	Strategy string `json:"strategy,omitempty"`
	// Authority is the node that runs the exchange's authority under this
	// node's view (its registry and its leader's appointment).
	Authority NodeRef `json:"authority"`
	// Term is the authority's term (a fencing token) as the current
	// leader's appointment carries it; 0 when there is no leader.
	Term  uint64 `json:"term"`
	Epoch uint64 `json:"epoch"`
	// Leader is nil when none is appointed; LeaderError says why.
	Leader      *HandlerDoc `json:"leader"`
	LeaderError string      `json:"leader_error,omitempty"`
	// Handlers are the req-resp exchange's handler connections on every
	// node (the leader first, then by seniority); HandlersPerNode counts
	// them by node.
	Handlers        []HandlerDoc   `json:"handlers"`
	HandlersPerNode map[string]int `json:"handlers_per_node"`
	// Subscriptions are the pub-sub exchange's distinct patterns per node.
	Subscriptions []NodePatternsDoc `json:"subscriptions"`
	Stats         StatsDoc          `json:"stats"`
	Rates         RatesDoc          `json:"rates"`
	// Latency holds the calls of the last interval by operation
	// ("request", "request_all", "request_async", "publish", "process",
	// "deliver"); an operation without calls then is absent.
	Latency map[string]LatencyDoc `json:"latency"`
}

// NodeRef names a node by its remote address and, when it is a member, its
// name.
type NodeRef struct {
	Node    string `json:"node,omitempty"`
	Address string `json:"address"`
}

// HandlerDoc is one handler connection.
type HandlerDoc struct {
	ID         string `json:"id"`
	Node       string `json:"node"`
	ServiceTag string `json:"service_tag,omitempty"`
	ConnTag    string `json:"conn_tag,omitempty"`
	Seq        uint64 `json:"seq"`
	Leader     bool   `json:"leader"`
}

// NodePatternsDoc is one node's subscriptions to a pub-sub exchange.
type NodePatternsDoc struct {
	Node     string   `json:"node"`
	Patterns []string `json:"patterns"`
}

// StatsDoc is exchange.Stats on this node, counted since it started.
type StatsDoc struct {
	Published     uint64 `json:"published"`
	Delivered     uint64 `json:"delivered"`
	RemoteSent    uint64 `json:"remote_sent"`
	RemoteDropped uint64 `json:"remote_dropped"`
	Received      uint64 `json:"received"`
	Expired       uint64 `json:"expired"`
	Unrouted      uint64 `json:"unrouted"`
	LeaderChanges uint64 `json:"leader_changes"`
	Ejections     uint64 `json:"ejections"`
	// Requests and Failed count this node's requests (every kind) and
	// those that failed; Processed the requests its handlers answered.
	// They need the calls' recorder (present when the status page or the
	// metrics are on).
	Requests  uint64 `json:"requests"`
	Failed    uint64 `json:"failed"`
	Processed uint64 `json:"processed"`
}

// RatesDoc are per-second rates over the last interval.
type RatesDoc struct {
	Requests     float64 `json:"requests"`
	Failed       float64 `json:"failed"`
	Processed    float64 `json:"processed"`
	Publications float64 `json:"publications"`
	Deliveries   float64 `json:"deliveries"`
	Received     float64 `json:"received"`
}

// LatencyDoc summarises one operation's durations over the last interval:
// the mean, and p50 and p99 interpolated within the histogram's buckets
// (50 µs to 10 s).
type LatencyDoc struct {
	Calls  uint64  `json:"calls"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
}

// LinkDoc is PathLink: the data link's totals and its state per peer.
// Present is false when the node has no link (data_port -1).
type LinkDoc struct {
	Present        bool      `json:"present"`
	FramesSent     uint64    `json:"frames_sent"`
	BytesSent      uint64    `json:"bytes_sent"`
	Writes         uint64    `json:"writes"`
	FramesReceived uint64    `json:"frames_received"`
	BytesReceived  uint64    `json:"bytes_received"`
	PeerFailures   uint64    `json:"peer_failures"`
	Peers          []PeerDoc `json:"peers"`
}

// PeerDoc is the data link's state with one peer, counted on the current
// connections (they start from zero when one is dialled again).
type PeerDoc struct {
	Data           string  `json:"data"` // the peer's data-link address
	Node           string  `json:"node,omitempty"`
	Out            bool    `json:"out"`
	OutError       string  `json:"out_error,omitempty"`
	Queued         int     `json:"queued_bytes"`
	FramesSent     uint64  `json:"frames_sent"`
	BytesSent      uint64  `json:"bytes_sent"`
	In             bool    `json:"in"`
	FramesReceived uint64  `json:"frames_received"`
	BytesReceived  uint64  `json:"bytes_received"`
	SentPerS       float64 `json:"bytes_sent_per_s"`
	ReceivedPerS   float64 `json:"bytes_received_per_s"`
	// The round-trip time on the link to the peer (a ping a second, queued
	// behind the frames each way): the last sample, the smoothed one, and
	// when the last was taken (RFC 3339); 0 and absent until a first one.
	RTTMS         float64 `json:"rtt_ms"`
	SmoothedRTTMS float64 `json:"smoothed_rtt_ms"`
	RTTAt         string  `json:"rtt_at,omitempty"`
}

// ErrorDoc is the body of every error response.
type ErrorDoc struct {
	Error string `json:"error"`
}
