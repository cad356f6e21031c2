package config

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster"
	"github.com/bourse-go/bourse/cluster/consul"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/cluster/static"
	"github.com/bourse-go/bourse/exchange"
	"github.com/bourse-go/bourse/strategies"
)

// Discovery providers, as cluster.discovery.provider spells them.
const (
	ProviderNone   = "none"
	ProviderStatic = "static"
	ProviderConsul = "consul"
)

// Log settings, as log.level and log.format spell them.
var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
	// overflowPolicies are broker.subscribers.overflow's values.
	overflowPolicies = []string{"drop-newest", "drop-oldest", "disconnect"}
)

// File is a loaded configuration: what a node needs to start, as the plain
// structs the core takes.
//
// A File starts one node: its Discovery serves one node once (see
// cluster.Discovery). Load the file again for another node.
type File struct {
	// Name is the path given to Load, or the name given to Parse.
	Name string
	// Cluster is the node's configuration, validated, with Discovery built
	// (nil for provider none), TLS built from the cluster.tls section (nil
	// without one), Logger built from the log section, and
	// Exchange.Strategies set to the registry the exchanges were checked
	// against.
	Cluster cluster.Config
	// Exchanges are the exchanges to declare, in the file's order, with
	// distinct names. A req-resp exchange that names no strategy has
	// "default".
	Exchanges []actors.Spec
	// Services are the services the file asks the cluster to place, in the
	// file's order, valid (deploy.Spec.Validate) and with distinct names.
	// Their kinds are checked against the registry given with WithKinds,
	// and otherwise when they are deployed. Start applies them
	// (cluster.Node.Apply).
	Services []deploy.Spec
	// Discovery is what the file says about discovery, for display and for
	// overrides that build their own; Cluster.Discovery is built from it.
	Discovery DiscoverySettings
	// Log is the log section: the level and format of Cluster.Logger.
	Log LogSettings
}

// DiscoverySettings is the cluster.discovery section.
type DiscoverySettings struct {
	// Provider is ProviderNone, ProviderStatic or ProviderConsul.
	Provider string
	// Peers are the static provider's peer addresses.
	Peers []string
	// Consul is the consul provider's configuration (Logger set to the
	// node's).
	Consul consul.Config
}

// LogSettings is the log section.
type LogSettings struct {
	// Level is the lowest level logged.
	Level slog.Level
	// Format is "text" or "json".
	Format string
}

// Option changes how Load and Parse build a File.
type Option func(*options)

type options struct {
	registry  *strategies.Registry
	kinds     *deploy.Kinds
	logOut    io.Writer
	overrides []func(*File)
}

// WithStrategies checks the exchanges' strategies against r and gives r to
// the node's exchange layer (Cluster.Exchange.Strategies). Strategies made
// of code (strategies.StickyFun, strategies.Fun, your own) are registered in
// r under a name, and the file names them. Without this option the registry
// is strategies.Builtin().
func WithStrategies(r *strategies.Registry) Option {
	return func(o *options) { o.registry = r }
}

// WithKinds checks the services' kinds against k: an unknown kind is then
// an error of the file, naming its key. Without this option kinds are not
// checked when the file is read (a node may register them after), only when
// a service is deployed.
func WithKinds(k *deploy.Kinds) Option {
	return func(o *options) { o.kinds = k }
}

// WithLogOutput sends the node's logs to w instead of os.Stderr, in the
// file's log format and level. Writes to w may come from many goroutines,
// each log record in one Write call (as log/slog's handlers do).
func WithLogOutput(w io.Writer) Option {
	return func(o *options) {
		if w != nil {
			o.logOut = w
		}
	}
}

// WithOverride calls fn on the loaded File, after the defaults, the file and
// the environment: code has the last word. Overrides run in the order given;
// the File is validated again after them. Cluster.Discovery is already built
// when fn runs: to change discovery, build a new one and set it.
func WithOverride(fn func(*File)) Option {
	return func(o *options) { o.overrides = append(o.overrides, fn) }
}

// Load reads the YAML file at path and returns the File it describes, with
// the environment applied (see the package documentation). Every error is
// an *Error wrapping ErrInvalid; a missing file's also wraps fs.ErrNotExist,
// and a file that sets nothing (empty, only comments, empty sections, or no
// known section) wraps ErrEmpty.
//
// Load and Parse keep no state between calls (each uses a viper instance of
// its own) and may be called from many goroutines at once.
func Load(path string, opts ...Option) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problem: "cannot read: " + unwrapPath(err), Err: err}
	}
	return Parse(data, path, opts...)
}

// unwrapPath drops the path from an *fs.PathError's message: the Error
// names the file already.
func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Parse is Load for a document in memory; name stands for the file in error
// messages.
func Parse(data []byte, name string, opts ...Option) (*File, error) {
	o := options{registry: strategies.Builtin(), logOut: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	if o.registry == nil {
		o.registry = strategies.Builtin()
	}
	v := viper.New() // one per call: viper's global instance is shared state
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, yamlError(name, data, err)
	}
	if e := checkNotEmpty(v.AllSettings()); e != nil {
		e.File = name
		return nil, e
	}
	p := &parser{name: name, v: v, lines: &lineIndex{data: data}}
	// The shape check sees the file alone: it runs before the environment is
	// bound, so every key it meets came from the file.
	if e := checkShape("", v.AllSettings(), schema); e != nil {
		p.fail(e, false)
		return nil, p.err
	}
	for _, e := range envVars {
		_ = v.BindEnv(e.key, e.env) // fails only without a key
	}
	f := p.build(o)
	if p.err != nil {
		return nil, p.err
	}
	for _, fn := range o.overrides {
		fn(f)
	}
	if len(o.overrides) > 0 {
		if err := f.validate(); err != nil {
			return nil, &Error{File: name, Problem: "after WithOverride: " + strings.TrimPrefix(err.Error(), "bourse: "), Err: err}
		}
	}
	return f, nil
}

// validate checks what overrides may have broken.
func (f *File) validate() error {
	if err := f.Cluster.Validate(); err != nil {
		return err
	}
	for _, s := range f.Exchanges {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	for _, s := range f.Services {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// build makes the File from the settings; p.err tells whether it is valid.
func (p *parser) build(o options) *File {
	f := &File{Name: p.name}
	cfg := cluster.DefaultConfig()

	if s, ok := p.nonEmpty("node.name"); ok {
		cfg.Node = s
	}
	if s, ok := p.nonEmpty("node.host"); ok {
		cfg.Host = s
	}
	if n, ok := p.integer("node.port", 0, 65535); ok {
		cfg.Port = n
	}
	if n, ok := p.integer("node.data_port", cluster.DataPortOff, 65535); ok {
		cfg.DataPort = n
	}
	cfg.Labels = p.labels()
	if s, ok := p.nonEmpty("cluster.name"); ok {
		cfg.Cluster = s
	}
	if d, ok := p.duration("cluster.heartbeat_interval"); ok && d != 0 {
		cfg.HeartbeatInterval = d
	}
	if d, ok := p.duration("cluster.suspect_after"); ok && d != 0 {
		cfg.SuspectAfter = d
	}
	if d, ok := p.duration("cluster.lease_duration"); ok && d != 0 {
		cfg.Exchange.LeaseDuration = d
	}
	if d, ok := p.duration("cluster.rebalance_interval"); ok && d != 0 {
		cfg.RebalanceInterval = d
	}
	if d, ok := p.duration("cluster.join_timeout"); ok && d != 0 {
		cfg.JoinTimeout = d
	}
	if n, ok := p.integer("broker.max_redirects", 0, exchange.MaxRedirectsLimit); ok {
		cfg.Exchange.MaxRedirects = n
	}
	if n, ok := p.integer("broker.workers", 0, actors.MaxWorkers); ok {
		cfg.Exchange.Workers = n
	}
	if n, ok := p.integer("broker.probation.failures", actors.ProbationOff, 1<<20); ok {
		cfg.Exchange.Probation.Failures = n
	}
	// In the file's order, so that the first bad one is the one reported.
	for _, kd := range []struct {
		key string
		d   *time.Duration
	}{
		{"broker.probation.eject", &cfg.Exchange.Probation.Eject},
		{"broker.probation.max_eject", &cfg.Exchange.Probation.MaxEject},
		{"broker.probation.ramp", &cfg.Exchange.Probation.Ramp},
		{"broker.probation.probe_timeout", &cfg.Exchange.Probation.ProbeTimeout},
	} {
		if v, ok := p.duration(kd.key); ok {
			*kd.d = v
		}
	}
	if n, ok := p.integer("broker.subscribers.pending", 0, exchange.MaxPendingLimit); ok {
		cfg.Exchange.Subscribers.Pending = n
	}
	if o := p.oneOf("broker.subscribers.overflow", "", overflowPolicies...); o != "" {
		cfg.Exchange.Subscribers.Overflow, _ = exchange.ParseOverflowPolicy(o)
	}
	if n, ok := p.integer("broker.handlers.concurrency", 0, actors.MaxConcurrency); ok {
		cfg.Exchange.Handlers.Concurrency = n
	}
	if n, ok := p.integer("broker.handlers.queue", actors.NoQueue, actors.MaxQueue); ok {
		cfg.Exchange.Handlers.Queue = n
	}
	if s, ok := p.str("metrics.listen"); ok {
		cfg.MetricsListen = s
	}
	if b, ok := p.boolean("metrics.protoactor"); ok {
		cfg.MetricsProtoactor = b
	}
	if s, ok := p.str("status.listen"); ok {
		cfg.StatusListen = s
	}
	p.checkCore(cfg)
	cfg.TLS = p.tlsConfig()

	f.Log = p.logSettings()
	cfg.Logger = newLogger(o.logOut, f.Log)
	cfg.Exchange.Strategies = o.registry
	cfg.Kinds = o.kinds

	f.Discovery, cfg.Discovery = p.discovery(cfg.Logger)
	f.Exchanges = p.exchanges(o.registry)
	f.Services = p.services(o.kinds, f.Exchanges)

	f.Cluster = cfg
	return f
}

// checkCore runs the core's validation (cluster.Config.Validate) on what
// the file and the environment gave, and reports its error under the key
// of the field it names (see keys).
func (p *parser) checkCore(cfg cluster.Config) {
	if p.err != nil {
		return
	}
	if err := cfg.Validate(); err != nil {
		p.coreError(err, -1)
	}
}

func (p *parser) logSettings() LogSettings {
	ls := LogSettings{Format: p.oneOf("log.format", "text", logFormats...)}
	switch p.oneOf("log.level", "info", logLevels...) {
	case "debug":
		ls.Level = slog.LevelDebug
	case "warn":
		ls.Level = slog.LevelWarn
	case "error":
		ls.Level = slog.LevelError
	default:
		ls.Level = slog.LevelInfo
	}
	return ls
}

func newLogger(w io.Writer, ls LogSettings) *slog.Logger {
	ho := &slog.HandlerOptions{Level: ls.Level}
	if ls.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// discovery reads the discovery section and builds the provider it names.
// The settings of the providers not chosen are not read, so one file can
// hold both and BOURSE_DISCOVERY_PROVIDER pick; but a file that gives peers
// or a consul section and no provider is refused, since it surely meant one.
func (p *parser) discovery(logger *slog.Logger) (DiscoverySettings, cluster.Discovery) {
	ds := DiscoverySettings{Provider: ProviderNone}
	provider, set := p.str("cluster.discovery.provider")
	if !set {
		switch {
		case p.v.Get("cluster.discovery.peers") != nil:
			p.bad("cluster.discovery.provider", "", "missing, and cluster.discovery.peers is set (say provider: static)")
		case p.v.Get("cluster.discovery.consul") != nil:
			p.bad("cluster.discovery.provider", "", "missing, and cluster.discovery.consul is set (say provider: consul)")
		}
		return ds, nil
	}
	ds.Provider = provider
	switch provider {
	case ProviderNone:
		return ds, nil
	case ProviderStatic:
		return ds, p.staticDiscovery(&ds)
	case ProviderConsul:
		return ds, p.consulDiscovery(&ds, logger)
	}
	_, env := p.get("cluster.discovery.provider")
	p.bad("cluster.discovery.provider", env, "unknown provider %q%s", provider, choices(provider, []string{ProviderNone, ProviderStatic, ProviderConsul}))
	return ds, nil
}

func (p *parser) staticDiscovery(ds *DiscoverySettings) cluster.Discovery {
	ds.Peers, _ = p.strs("cluster.discovery.peers")
	if p.err != nil {
		return nil
	}
	d, err := static.Parse(ds.Peers)
	if err != nil {
		p.coreError(err, -1)
		return nil
	}
	return d
}

func (p *parser) consulDiscovery(ds *DiscoverySettings, logger *slog.Logger) cluster.Discovery {
	c := &ds.Consul
	c.Address, _ = p.str("cluster.discovery.consul.address")
	c.Token, _ = p.str("cluster.discovery.consul.token")
	c.TTL, _ = p.duration("cluster.discovery.consul.ttl")
	c.RefreshInterval, _ = p.duration("cluster.discovery.consul.refresh_interval")
	c.DeregisterAfter, _ = p.duration("cluster.discovery.consul.deregister_after")
	c.WaitTime, _ = p.duration("cluster.discovery.consul.wait_time")
	c.Logger = logger
	if p.err != nil {
		return nil
	}
	if c.Address == "" {
		p.bad("cluster.discovery.consul.address", "", "missing: provider consul needs the agent's host:port (or set BOURSE_CONSUL_ADDRESS)")
		return nil
	}
	d, err := consul.New(*c)
	if err != nil {
		p.coreError(err, -1)
		return nil
	}
	return d
}
