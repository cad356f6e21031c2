package cluster

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/errs"
)

// Defaults of Config. A zero duration in a Config means its default.
const (
	DefaultCluster           = "bourse"
	DefaultHost              = "127.0.0.1"
	DefaultHeartbeatInterval = 200 * time.Millisecond
	DefaultSuspectAfter      = time.Second
	DefaultJoinTimeout       = 2 * time.Second
)

// DataPortOff as Config.DataPort turns the node's data link off.
const DataPortOff = -1

// MinHeartbeatInterval is the shortest HeartbeatInterval Validate accepts.
const MinHeartbeatInterval = 10 * time.Millisecond

// minLeaseDuration is the shortest leader lease Validate accepts: a leader
// asks to renew its lease four times per lease, so a shorter one would
// renew more often than every millisecond.
const minLeaseDuration = 4 * time.Millisecond

// ErrInvalidConfig is wrapped by every error of Config.Validate and Start
// about the configuration. It is errs.ErrInvalid, the one sentinel of bad
// configuration in every bourse package, under its older name: Validate's
// errors are *errs.FieldError, naming the field ("cluster.Config.Port").
var ErrInvalidConfig = errs.ErrInvalid

// Config configures a Node. Get one from DefaultConfig and change what you
// need; Start validates it.
type Config struct {
	// Cluster names the cluster: nodes of different clusters ignore each
	// other's heartbeats, even when discovery lists them.
	Cluster string
	// Node names this node, unique in the cluster. It is also the exchange
	// layer's node name (Exchange.Node is overwritten with it).
	Node string
	// Host is the address protoactor remote listens on and that peers use to
	// reach this node. It must be a specific address: 0.0.0.0 and :: are
	// refused, because peers could not send to them.
	Host string
	// Port is remote's TCP port; 0 picks a free one (see Node.Address).
	Port int
	// DataPort is the TCP port of the node's data link, on Host: requests,
	// replies and publications to and from other nodes travel on it, one
	// framed connection per pair of nodes, while protoactor remote carries
	// the control plane. 0 picks a free port, which the heartbeats tell the
	// peers; DataPortOff (-1) turns the link off and sends everything
	// through remote.
	DataPort int
	// Discovery tells the node which peers may exist. nil means none: the
	// node is alone until a peer that knows its address contacts it.
	Discovery Discovery
	// HeartbeatInterval is how often the node sends a heartbeat to every
	// peer it knows. 0 means DefaultHeartbeatInterval (200 ms).
	HeartbeatInterval time.Duration
	// SuspectAfter is how long a peer may stay silent before it is declared
	// dead. It must be more than twice HeartbeatInterval. 0 means
	// DefaultSuspectAfter (1 s).
	SuspectAfter time.Duration
	// JoinTimeout bounds how long Start waits for the peers discovery lists
	// to answer before it returns. 0 means DefaultJoinTimeout (2 s).
	JoinTimeout time.Duration
	// Exchange configures the node's exchange layer (actors.Config). Its
	// Node is set to Config.Node, a nil Logger to Config.Logger, and a zero
	// LeaseDuration (the leader lease, see actors.Leadership) to half of
	// SuspectAfter.
	Exchange actors.Config
	// Logger receives the node's logs and protoactor's (with attribute
	// lib=protoactor). nil means slog.Default().
	Logger *slog.Logger
	// TLS, when not nil, secures everything between nodes: remote's gRPC
	// connections and the data link, each as server and client with this
	// configuration. For mutual TLS give it the node's certificate, the
	// cluster's CA in RootCAs and ClientCAs, and ClientAuth:
	// tls.RequireAndVerifyClientCert (TLSFromFiles makes one). Peer
	// addresses are Host:port, so certificates must name the hosts (or IP
	// addresses) nodes listen on. Every node of a cluster uses TLS or none:
	// a node without it does not hear from one with it. nil means plaintext.
	TLS *tls.Config
	// Labels describe the node to deployment selectors (cluster/deploy):
	// "zone": "eu-west-1a", "disk": "ssd". Every node learns every live
	// member's labels from its heartbeats (Member.Labels). Keys and values
	// follow Kubernetes' label syntax (deploy.CheckLabelKey): a key is a
	// name of 1-63 letters, digits, '-', '_' and '.' beginning and ending
	// with a letter or digit, optionally after a DNS prefix and a slash
	// ("bourse.io/zone"); a value is such a name (never empty). They are
	// fixed for the node's run. nil means none.
	Labels map[string]string
	// Kinds are the service kinds this node can run (Node.Deploy): each
	// node registers its own constructors, under the names specs use. An
	// instance of a kind this node lacks fails to start here, and Deploy
	// says so. nil means none.
	Kinds *deploy.Kinds
	// RebalanceInterval is the least time between two replicas a node
	// takes over from others (when it joins, say): each new instance is
	// routed to before the one it replaces stops. 0 means
	// DefaultRebalanceInterval.
	RebalanceInterval time.Duration
	// DeployStartTimeout bounds the start-up of one deployed instance (its
	// constructor and its connection). 0 means DefaultDeployStartTimeout.
	DeployStartTimeout time.Duration
	// MetricsListen, when not "", is the "host:port" of the node's metrics
	// endpoint (port 0 picks a free one, see Node.MetricsAddress): Start
	// serves the node's OpenTelemetry metrics there in Prometheus' format
	// at /metrics. "" (the default) means no metrics, at no cost on the
	// data path. The metrics are listed in docs/configuration.md.
	MetricsListen string
	// MetricsProtoactor, with MetricsListen, switches protoactor's own
	// instruments on too (protoactor_* at the same endpoint). Off by
	// default: the pinned protoactor times every message every actor
	// receives, with attributes built per message, which halves the
	// request-response benchmark's throughput (docs/configuration.md).
	MetricsProtoactor bool
	// StatusListen, when not "", is the "host:port" of the node's status
	// page (port 0 picks a free one, see Node.StatusAddress): the members,
	// the exchanges with their authority, leader, handlers and
	// subscriptions per node, rates and latencies, and the data link per
	// peer, live, with JSON endpoints behind it (docs/status.md). "" (the
	// default) means none. With it the node records its calls' counts and
	// durations, as metrics do (a clock read and a few atomic adds per
	// call).
	StatusListen string
}

// TLSFile names one of TLSFromFiles' files.
type TLSFile int

// The files of TLSFromFiles, in the order it takes them.
const (
	TLSCert TLSFile = iota
	TLSKey
	TLSCA
)

func (f TLSFile) String() string {
	switch f {
	case TLSCert:
		return "certificate"
	case TLSKey:
		return "key"
	case TLSCA:
		return "CA"
	}
	return "TLSFile(?)"
}

// TLSFileError is the error of TLSFromFiles: which file it could not use and
// why. It wraps ErrInvalidConfig, and the read error when the file could not
// be read (errors.Is(err, fs.ErrNotExist) works).
type TLSFileError struct {
	File    TLSFile
	Path    string
	Problem string // names the file, e.g. "no PEM certificate in ca.pem"
	Err     error  // the read error, or nil
}

func (e *TLSFileError) Error() string {
	return fmt.Sprintf("bourse: TLS %s: %s", e.File, e.Problem)
}

// Unwrap returns ErrInvalidConfig and the read error, if any.
func (e *TLSFileError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// TLSFromFiles returns a mutual-TLS configuration for Config.TLS from PEM
// files: the node's certificate (with its chain) and key, and the CA that
// signs every node's certificate, trusted both ways. Its errors are
// *TLSFileError, naming the file that could not be used.
func TLSFromFiles(certFile, keyFile, caFile string) (*tls.Config, error) {
	paths := [3]string{certFile, keyFile, caFile}
	var data [3][]byte
	for i, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			msg := err.Error()
			var pe *fs.PathError
			if errors.As(err, &pe) {
				msg = pe.Err.Error()
			}
			return nil, &TLSFileError{File: TLSFile(i), Path: path, Problem: fmt.Sprintf("cannot read %s: %s", path, msg), Err: err}
		}
		data[i] = b
	}
	fail := func(f TLSFile, format string, args ...any) (*tls.Config, error) {
		return nil, &TLSFileError{File: f, Path: paths[f], Problem: fmt.Sprintf(format, args...)}
	}
	certPEM, ok := firstPEM(data[TLSCert], func(t string) bool { return t == "CERTIFICATE" })
	if !ok {
		return fail(TLSCert, "no PEM certificate in %s", certFile)
	}
	if _, err := x509.ParseCertificate(certPEM.Bytes); err != nil {
		return fail(TLSCert, "%s: %v", certFile, err)
	}
	if _, ok := firstPEM(data[TLSKey], func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }); !ok {
		return fail(TLSKey, "no PEM private key in %s", keyFile)
	}
	cert, err := tls.X509KeyPair(data[TLSCert], data[TLSKey])
	if err != nil {
		return fail(TLSKey, "%s (with the certificate of %s): %s", keyFile, certFile, strings.TrimPrefix(err.Error(), "tls: "))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data[TLSCA]) {
		return fail(TLSCA, "no PEM certificate in %s", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// firstPEM returns the first PEM block of data whose type is wanted.
func firstPEM(data []byte, wanted func(string) bool) (*pem.Block, bool) {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return nil, false
		}
		if wanted(b.Type) {
			return b, true
		}
	}
}

// DefaultConfig returns a configuration for a node of cluster "bourse" on
// 127.0.0.1 with a free port, named after the host and the process id
// ("node-<random>" when the host name is unknown), with no discovery.
func DefaultConfig() Config {
	return Config{
		Cluster:           DefaultCluster,
		Node:              defaultNodeName(),
		Host:              DefaultHost,
		HeartbeatInterval: DefaultHeartbeatInterval,
		SuspectAfter:      DefaultSuspectAfter,
		JoinTimeout:       DefaultJoinTimeout,
		Exchange:          actors.DefaultConfig(),
	}
}

func defaultNodeName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h + "-" + strconv.Itoa(os.Getpid())
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return "node-" + hex.EncodeToString(b[:])
}

// withDefaults fills the zero durations and the exchange config's node.
func (c Config) withDefaults() Config {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.SuspectAfter == 0 {
		c.SuspectAfter = DefaultSuspectAfter
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = DefaultJoinTimeout
	}
	if c.RebalanceInterval == 0 {
		c.RebalanceInterval = DefaultRebalanceInterval
	}
	if c.DeployStartTimeout == 0 {
		c.DeployStartTimeout = DefaultDeployStartTimeout
	}
	c.Exchange.Node = c.Node
	if c.DataPort != DataPortOff {
		c.Exchange.DataAddr = net.JoinHostPort(c.Host, strconv.Itoa(c.DataPort))
		c.Exchange.DataTLS = c.TLS
	}
	if c.Exchange.Logger == nil {
		c.Exchange.Logger = c.Logger
	}
	if c.Exchange.LeaseDuration == 0 {
		// Half the failure detector's patience: a silent leader's lease has
		// run out by the time its node is declared down, so its successor
		// takes over at once.
		c.Exchange.LeaseDuration = c.SuspectAfter / 2
	}
	return c
}

// Validate reports the first problem of c, as an *errs.FieldError naming
// the field ("cluster.Config.Port"; a problem of Exchange is named under
// it, "cluster.Config.Exchange.MaxRedirects"). Zero durations are checked
// as their defaults. The problems name other fields in words, so that the
// YAML loader can report them under the file's keys.
func (c Config) Validate() error {
	c = c.withDefaults()
	invalid := func(field, format string, args ...any) error {
		return errs.Field("cluster.Config."+field, format, args...)
	}
	switch {
	case c.Cluster == "":
		return invalid("Cluster", "is empty")
	case c.Node == "":
		return invalid("Node", "is empty")
	case c.Host == "":
		return invalid("Host", "is empty")
	case c.Port < 0 || c.Port > 65535:
		return invalid("Port", "is %d, want 0..65535 (0 picks a free port)", c.Port)
	case c.DataPort < DataPortOff || c.DataPort > 65535:
		return invalid("DataPort", "is %d, want 0..65535 (0 picks a free port) or -1 (no data link)", c.DataPort)
	case c.DataPort != DataPortOff && c.DataPort != 0 && c.DataPort == c.Port:
		return invalid("DataPort", "is %d, the same as the node's port: the data link needs a port of its own (0 picks a free one, -1 turns the link off)", c.DataPort)
	case c.HeartbeatInterval < MinHeartbeatInterval:
		return invalid("HeartbeatInterval", "is %v, want at least %v", c.HeartbeatInterval, MinHeartbeatInterval)
	case c.JoinTimeout < 0:
		return invalid("JoinTimeout", "is %v, want 0 (the default, %v) or more", c.JoinTimeout, DefaultJoinTimeout)
	case c.SuspectAfter <= 2*c.HeartbeatInterval:
		return invalid("SuspectAfter", "is %v, want more than twice the heartbeat interval (%v)", c.SuspectAfter, c.HeartbeatInterval)
	case c.RebalanceInterval < 0:
		return invalid("RebalanceInterval", "is %v, want 0 (the default, %v) or more", c.RebalanceInterval, DefaultRebalanceInterval)
	case c.DeployStartTimeout < 0:
		return invalid("DeployStartTimeout", "is %v, want 0 (the default, %v) or more", c.DeployStartTimeout, DefaultDeployStartTimeout)
	case c.Exchange.LeaseDuration < minLeaseDuration || c.Exchange.LeaseDuration >= c.SuspectAfter:
		return invalid("Exchange.LeaseDuration", "is %v, want %v or more and less than the suspect time (%v)", c.Exchange.LeaseDuration, minLeaseDuration, c.SuspectAfter)
	}
	if k, p := deploy.CheckLabels(c.Labels); p != "" {
		return invalid("Labels["+strconv.Quote(k)+"]", "%s", p)
	}
	if ip := net.ParseIP(c.Host); ip != nil && ip.IsUnspecified() {
		return invalid("Host", "%q is an unspecified address that peers cannot send to; give the address of an interface", c.Host)
	}
	if err := checkMetricsListen(c.MetricsListen); err != nil {
		return err
	}
	if err := checkStatusListen(c.StatusListen); err != nil {
		return err
	}
	if c.MetricsProtoactor && c.MetricsListen == "" {
		return invalid("MetricsProtoactor", "is set without an address to serve metrics on (metrics listen)")
	}
	if err := c.Exchange.Validate(); err != nil {
		return errs.Rename(err, "exchange.Config.", "cluster.Config.Exchange.")
	}
	return nil
}
