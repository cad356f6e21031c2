//go:build chaos

package chaos

import (
	"encoding/json"
	"io"
	"sync"
)

// linePrefix starts every protocol line a child writes on its stdout; the
// parent logs other lines as they are.
const linePrefix = "@chaos "

// Event types, the E field of an event.
const (
	evHello    = "hello"    // Node, Inc, Pid: the process runs its node
	evReady    = "ready"    // exchanges declared, handlers served, subscribed
	evReq      = "req"      // Ex, OK, First, Last, Errs, Fails, Dropped: requests ended since the last req of Ex
	evLead     = "lead"     // Ex, Is, Src: the handler of Ex starts (Is) or stops acting as leader
	evResume   = "resume"   // Gap: the process did not run for Gap ns (SIGSTOP, or starved)
	evGap      = "gap"      // Key, From..To missing: the one before was published at T0, the one after received at T
	evDup      = "dup"      // Key, From (published at T0): received again
	evLate     = "late"     // Key, From (published at T0): received after a later one (reordered)
	evStream   = "stream"   // Key, N, From, To: receipts of one publisher's stream so far
	evPubs     = "pubs"     // Key, To (last published), N (failed publishes)
	evStats    = "stats"    // G, Heap (in use), Live (live heap)
	evView     = "view"     // View
	evLoadDone = "loaddone" // every caller and the publisher have ended
	evBye      = "bye"      // the node is stopping
	evMember   = "member"   // Node, Inc, Is (up), Src (reason): a membership event of this node
)

// Error classes of failed requests.
const (
	classNodeDown   = "nodedown"
	classNoHandlers = "nohandlers"
	classTimeout    = "timeout"
	classStopped    = "stopped"
	classOther      = "other"
)

// event is one protocol line: a JSON object whose E says which other fields
// are set. Times are CLOCK_MONOTONIC nanoseconds (mono).
type event struct {
	E string `json:"e"`
	T int64  `json:"t"`

	Node string `json:"node,omitempty"`
	Inc  uint64 `json:"inc,omitempty"`
	Pid  int    `json:"pid,omitempty"`

	Ex      string         `json:"ex,omitempty"`
	OK      int            `json:"ok,omitempty"`
	First   int64          `json:"first,omitempty"`
	Last    int64          `json:"last,omitempty"`
	Errs    map[string]int `json:"errs,omitempty"`
	Fails   []fail         `json:"fails,omitempty"`
	Dropped int            `json:"dropped,omitempty"`
	Sample  string         `json:"sample,omitempty"` // an error of class other

	Is  bool   `json:"is,omitempty"`
	Src string `json:"src,omitempty"`

	Gap int64 `json:"gap,omitempty"`

	Key  string `json:"key,omitempty"`
	From uint64 `json:"from,omitempty"`
	To   uint64 `json:"to,omitempty"`
	T0   int64  `json:"t0,omitempty"`
	N    uint64 `json:"n,omitempty"`

	G    int    `json:"g,omitempty"`
	Heap uint64 `json:"heap,omitempty"`
	Live uint64 `json:"live,omitempty"`

	View *view `json:"view,omitempty"`
}

// fail is one failed request.
type fail struct {
	C string `json:"c"` // error class
	S int64  `json:"s"` // start
	D int64  `json:"d"` // time to fail
	F bool   `json:"f"` // waited out its whole deadline
}

// view is what a node believes: handlers of "rr" and "lead" as
// "node/id", their leaders, and the live members as
// "node#incarnation", sorted.
type view struct {
	Members    []string `json:"members"`
	RR         []string `json:"rr"`
	Lead       []string `json:"lead"`
	RRLeader   string   `json:"rrLeader"`
	LeadLeader string   `json:"leadLeader"`
	// Single and PerNode are the deployed services' instances this node
	// routes to: node/key each.
	Single  []string `json:"single"`
	PerNode []string `json:"perNode"`
}

// emitter writes events as lines; safe for concurrent use.
type emitter struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *emitter) emit(ev event) {
	if ev.T == 0 {
		ev.T = mono()
	}
	b, _ := json.Marshal(ev) // plain data: never fails
	line := append([]byte(linePrefix), append(b, '\n')...)
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(line)
}
