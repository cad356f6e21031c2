package exchange

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/internal/codec"
	boursepb "github.com/bourse-go/bourse/proto"
)

// sentinels is every exported sentinel of the package, by name.
// TestSentinelsListed checks that none is missing.
var sentinels = map[string]error{
	"ErrNoHandlers":       ErrNoHandlers,
	"ErrRejected":         ErrRejected,
	"ErrNoLeader":         ErrNoLeader,
	"ErrTimeout":          ErrTimeout,
	"ErrHandler":          ErrHandler,
	"ErrUnknownExchange":  ErrUnknownExchange,
	"ErrWrongKind":        ErrWrongKind,
	"ErrExchangeExists":   ErrExchangeExists,
	"ErrAlreadyConnected": ErrAlreadyConnected,
	"ErrWrongType":        ErrWrongType,
	"ErrNodeDown":         ErrNodeDown,
	"ErrStopped":          ErrStopped,
	"ErrInvalid":          ErrInvalid,
	"ErrRedirectLoop":     ErrRedirectLoop,
	"ErrSlowConsumer":     ErrSlowConsumer,
	"ErrOverloaded":       ErrOverloaded,
}

// TestSentinelsListed reads the package's source for exported variables
// named Err*, so that a sentinel added later without a wire code fails
// TestSentinelsCrossTheWire.
func TestSentinelsListed(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, n := range spec.(*ast.ValueSpec).Names {
					if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
						found++
						if _, ok := sentinels[n.Name]; !ok {
							t.Errorf("%s (%s) is not in the test's list of sentinels", n.Name, fset.Position(n.Pos()))
						}
					}
				}
			}
		}
	}
	if found != len(sentinels) {
		t.Errorf("the source declares %d sentinels, the test lists %d", found, len(sentinels))
	}
}

// TestSentinelsCrossTheWire sends every sentinel, wrapped, through the
// wire codec of a reply (encode, decode) and checks that it comes back as
// the same sentinel under errors.Is.
func TestSentinelsCrossTheWire(t *testing.T) {
	for name, s := range sentinels {
		t.Run(name, func(t *testing.T) {
			err := &RequestError{Exchange: "x", Err: fmt.Errorf("context: %w", s)}
			w := ErrorToWire("x", err)
			if s != ErrHandler && w.GetCode() == boursepb.Code_CODE_HANDLER {
				t.Fatalf("%s has no wire code of its own", name)
			}
			b, aerr := (&codec.OutReply{Exchange: "x", Corr: 1, Err: w}).AppendTo(nil)
			if aerr != nil {
				t.Fatal(aerr)
			}
			in, derr := codec.New().DecodeReply(b)
			if derr != nil {
				t.Fatal(derr)
			}
			back := ErrorFromWire(in.Err)
			if !errors.Is(back, s) {
				t.Fatalf("came back as %v (code %v)", back, w.GetCode())
			}
			for other, o := range sentinels {
				if other != name && errors.Is(back, o) && !errors.Is(s, o) {
					t.Errorf("came back also as %s", other)
				}
			}
		})
	}
}

// TestCodeOfIsDeterministic: an error that wraps two sentinels always gets
// the code of the one listed first in codes, whatever the order of wrapping.
func TestCodeOfIsDeterministic(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want boursepb.Code
	}{
		{"node down and invalid", errors.Join(ErrInvalid, ErrNodeDown), boursepb.Code_CODE_NODE_DOWN},
		{"invalid and node down", errors.Join(ErrNodeDown, ErrInvalid), boursepb.Code_CODE_NODE_DOWN},
		{"timeout wrapping stopped", fmt.Errorf("%w: %w", ErrStopped, ErrTimeout), boursepb.Code_CODE_TIMEOUT},
		{"unknown exchange and wrong kind", fmt.Errorf("%w (%w)", ErrWrongKind, ErrUnknownExchange), boursepb.Code_CODE_UNKNOWN_EXCHANGE},
		{"no handlers and no leader", errors.Join(ErrNoHandlers, ErrNoLeader), boursepb.Code_CODE_NO_LEADER},
		{"none", errors.New("disk full"), boursepb.Code_CODE_HANDLER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 100 { // a map's order would differ among runs
				if got := CodeOf(tt.err); got != tt.want {
					t.Fatalf("CodeOf(%v) = %v, want %v", tt.err, got, tt.want)
				}
			}
		})
	}
}

// TestEveryCodeHasOneSentinel: codes maps each code once, and every code
// of the enum but CODE_UNSPECIFIED has a sentinel.
func TestEveryCodeHasOneSentinel(t *testing.T) {
	seen := map[boursepb.Code]bool{}
	for _, c := range codes {
		if seen[c.code] {
			t.Errorf("%v listed twice", c.code)
		}
		seen[c.code] = true
	}
	for v, name := range boursepb.Code_name {
		if c := boursepb.Code(v); c != boursepb.Code_CODE_UNSPECIFIED && !seen[c] {
			t.Errorf("%s has no sentinel", name)
		}
	}
}

// TestReadmeListsEverySentinel: the README's section on errors names every
// sentinel of the package.
func TestReadmeListsEverySentinel(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Errors\n")
	if !ok {
		t.Fatal("README.md has no ### Errors section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for name := range sentinels {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("README.md's Errors section does not name %s", name)
		}
	}
}
