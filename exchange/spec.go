package exchange

import (
	"fmt"
	"strings"

	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/strategies"
)

// Kind is an exchange's kind.
type Kind int

const (
	// ReqResp exchanges route requests to handlers and replies back.
	ReqResp Kind = iota + 1
	// PubSub exchanges route publications to subscribers by routing key.
	PubSub
)

// String returns the kind as written in configuration: "req-resp" or "pub-sub".
func (k Kind) String() string {
	switch k {
	case ReqResp:
		return "req-resp"
	case PubSub:
		return "pub-sub"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind parses "req-resp" or "pub-sub".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "req-resp":
		return ReqResp, nil
	case "pub-sub":
		return PubSub, nil
	}
	return 0, fmt.Errorf("%w: unknown exchange kind %q (known: pub-sub, req-resp)", ErrInvalid, s)
}

// DefaultStrategy is the strategy of a req-resp exchange whose Spec names none.
const DefaultStrategy = "default"

// Spec declares an exchange.
type Spec struct {
	// Name is the exchange's name, unique in the hub (and in a cluster).
	Name string
	// Kind is ReqResp or PubSub.
	Kind Kind
	// Strategy names a strategy in the hub's registry (req-resp only; empty
	// means DefaultStrategy). Ignored when Impl is set.
	Strategy string
	// Params are the strategy's parameters.
	Params strategies.Params
	// Impl, when set, is used instead of looking Strategy up: for strategies
	// made in code for this one exchange.
	Impl strategies.Strategy
}

// Validate reports what is wrong with s, as an *errs.FieldError naming the
// field ("exchange.Spec.Name"); it wraps ErrInvalid.
func (s Spec) Validate() error {
	if strings.TrimSpace(s.Name) == "" {
		return errs.Field("exchange.Spec.Name", "is empty")
	}
	if len(s.Name) > 255 {
		return errs.Field("exchange.Spec.Name", "%.20q... is longer than 255 bytes", s.Name)
	}
	switch s.Kind {
	case ReqResp:
	case PubSub:
		if s.Strategy != "" || s.Impl != nil {
			return errs.Field("exchange.Spec.Strategy", "exchange %q: pub-sub exchanges take no strategy", s.Name)
		}
	default:
		return errs.Field("exchange.Spec.Kind", "exchange %q: want ReqResp or PubSub, got %v", s.Name, s.Kind)
	}
	return nil
}

func (s Spec) strategyName() string {
	if s.Impl != nil {
		return ""
	}
	if s.Strategy == "" {
		return DefaultStrategy
	}
	return s.Strategy
}
