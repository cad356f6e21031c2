package status

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/internal/metrics"
	boursepb "github.com/bourse-go/bourse/proto"
)

// The paths a Server serves. Every one answers GET (and HEAD) only.
const (
	PathPage      = "/"              // the status page (HTML)
	PathStatus    = "/api/status"    // Document: all of the below at one time
	PathNode      = "/api/node"      // NodeDoc
	PathMembers   = "/api/members"   // []MemberDoc
	PathExchanges = "/api/exchanges" // []ExchangeDoc; ?name=X: that one ExchangeDoc
	PathLink      = "/api/link"      // LinkDoc
)

// DefaultInterval is Config.Interval's default.
const DefaultInterval = time.Second

//go:embed page.html
var page []byte

// Member is a node of the cluster as the page shows it.
type Member struct {
	Node        string
	Address     string // protoactor remote address
	Data        string // data-link address, "" without one
	Incarnation uint64
	Labels      map[string]string
}

// Cluster is what the page reads of the node's cluster layer. Its methods
// must not block; they are called from the server's goroutines,
// concurrently.
type Cluster interface {
	// Self is the node that serves the page.
	Self() Member
	// Members is the live set, self included.
	Members() []Member
	// Owner is the remote address of the node that runs exchange's
	// authority.
	Owner(exchange string) string
	// HasQuorum reports whether the node sees a majority of the cluster.
	HasQuorum() bool
}

// Broker is what the page reads of the node's exchanges; *actors.Broker
// is one. Its methods must not block; they are called from the server's
// goroutines, concurrently.
type Broker interface {
	Exchanges() []exchange.Spec
	Leader(name string) (*boursepb.HandlerInfo, uint64, error)
	Handlers(name string) ([]*boursepb.HandlerInfo, error)
	Subscriptions(name string) ([]*boursepb.NodePatterns, error)
	Stats(name string) (exchange.Stats, error)
	LinkStats() (exchange.LinkStats, bool)
	LinkPeers() []exchange.LinkPeerStats
}

// Calls reads the calls' counts and durations; *metrics.Instruments is
// one.
type Calls interface {
	Totals() []metrics.Totals
}

// Config is what a Server reads and how often.
type Config struct {
	Cluster Cluster // required
	Broker  Broker  // required
	// Calls, when not nil, gives the rates and latencies of requests and
	// handlers; without it they are 0 (publications and deliveries still
	// have rates, from Broker.Stats).
	Calls Calls
	// Interval is the sampler's period, over which rates and latencies are
	// computed; 0 means DefaultInterval.
	Interval time.Duration
	// Logger logs a server that stops serving on its own; nil means
	// slog.Default().
	Logger *slog.Logger
}

// ErrConfig: a Config lacks what it needs.
var ErrConfig = errors.New("bourse: status: invalid config")

// ListenError is Listen's failure to listen on Addr: a malformed address
// or one this host cannot listen on (taken, not its own).
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("bourse: status: cannot listen on %q: %v", e.Addr, e.Err)
}
func (e *ListenError) Unwrap() error { return e.Err }

// Server serves a node's status page and JSON endpoints. Its methods are
// safe for concurrent use.
type Server struct {
	cfg     Config
	started time.Time
	mux     *http.ServeMux
	samples sampler
	members memberLog

	srv  *http.Server
	addr string
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

// New makes a server that is not listening: Handler serves its page and
// endpoints, and its sampler does not run until Listen (without it, rates
// are 0). Tests and embedders that own their HTTP server use it.
func New(cfg Config) (*Server, error) {
	if cfg.Cluster == nil || cfg.Broker == nil {
		return nil, fmt.Errorf("%w: Cluster and Broker are required", ErrConfig)
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("%w: Interval %v is negative", ErrConfig, cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, started: time.Now(), mux: http.NewServeMux(), quit: make(chan struct{})}
	s.route(PathStatus, func(r *http.Request) (any, error) { return s.document(), nil })
	s.route(PathNode, func(r *http.Request) (any, error) { return s.node(), nil })
	s.route(PathMembers, func(r *http.Request) (any, error) { return s.memberDocs(time.Now()), nil })
	s.route(PathExchanges, s.exchangesEndpoint)
	s.route(PathLink, func(r *http.Request) (any, error) { return s.link(s.memberDocs(time.Now())), nil })
	s.mux.HandleFunc("/", s.servePage)
	s.samples.take(s.cfg, time.Now()) // a first sample, so the first rates come after one interval
	return s, nil
}

// Listen starts a server on addr ("host:port"; port 0 picks a free one)
// and its sampler. Its error is a *ListenError for an address it cannot
// listen on, or wraps ErrConfig.
func Listen(addr string, cfg Config) (*Server, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		if err == nil {
			err = errors.New("missing port")
		}
		return nil, &ListenError{Addr: addr, Err: err}
	}
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Addr: addr, Err: err}
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("bourse: status: the page's server stopped", slog.String("address", s.addr), slog.Any("error", err))
		}
	}()
	go s.sample()
	return s, nil
}

// Addr returns the address the server listens on ("" for a server made by
// New).
func (s *Server) Addr() string { return s.addr }

// Handler returns the server's HTTP handler: the page at PathPage and the
// JSON endpoints.
func (s *Server) Handler() http.Handler { return s.mux }

// Stop stops serving and sampling, and returns when every goroutine the
// server started has ended. ctx bounds the wait for requests in progress;
// they are then cut. It is idempotent: later calls return the first call's
// result, and a second caller waits for the first.
func (s *Server) Stop(ctx context.Context) error {
	s.once.Do(func() {
		close(s.quit)
		if s.srv != nil {
			if err := s.srv.Shutdown(ctx); err != nil {
				s.err = errors.Join(fmt.Errorf("bourse: status: stop: %w", err), s.srv.Close())
			}
		}
		s.wg.Wait()
	})
	return s.err
}

// sample takes a sample every Interval until Stop, and updates the member
// log, so that a member's "since" is when the server noticed it, within an
// interval, whether or not anyone was reading.
func (s *Server) sample() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			s.samples.take(s.cfg, now)
			s.memberDocs(now) // notice members coming and going without a reader
		case <-s.quit:
			return
		}
	}
}

// route serves GET and HEAD at path with fn's document as JSON.
func (s *Server) route(path string, fn func(*http.Request) (any, error)) {
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, ErrorDoc{Error: "method " + r.Method + " not allowed; use GET"})
			return
		}
		v, err := fn(r)
		if err != nil {
			var he *httpError
			if errors.As(err, &he) {
				writeJSON(w, he.code, ErrorDoc{Error: he.msg})
				return
			}
			writeJSON(w, http.StatusInternalServerError, ErrorDoc{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// httpError is an endpoint's answer other than 200.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// servePage serves the page at PathPage, and a JSON 404 elsewhere.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PathPage && r.URL.Path != "/index.html" {
		writeJSON(w, http.StatusNotFound, ErrorDoc{Error: "no such page: " + r.URL.Path + " (see " + PathPage + " and " + PathStatus + ")"})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, ErrorDoc{Error: "method " + r.Method + " not allowed; use GET"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	_, _ = w.Write(page)
}

// exchangesEndpoint is PathExchanges: every exchange, or ?name=X's alone.
func (s *Server) exchangesEndpoint(r *http.Request) (any, error) {
	q := r.URL.Query()
	for k := range q {
		if k != "name" {
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("unknown parameter %q (known: name)", k)}
		}
	}
	members := s.memberDocs(time.Now())
	if !q.Has("name") {
		return s.exchanges(members), nil
	}
	name := q.Get("name")
	if name == "" {
		return nil, &httpError{http.StatusBadRequest, "parameter name is empty"}
	}
	for _, sp := range s.cfg.Broker.Exchanges() {
		if sp.Name == name {
			return s.exchange(sp, members), nil
		}
	}
	return nil, &httpError{http.StatusNotFound, fmt.Sprintf("no exchange %q is declared on this node", name)}
}
