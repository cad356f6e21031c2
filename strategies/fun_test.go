package strategies_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bourse-go/bourse/strategies"
)

var errNotAllowed = errors.New("tenant not allowed")

// route is a FunFunc exercising every kind of decision, chosen by the tag.
func route(req strategies.Request, ms []strategies.Member) (strategies.Decision, error) {
	switch req.Tag {
	case "leader":
		return strategies.Decision{Target: 0}, nil
	case "last":
		return strategies.Decision{Target: len(ms) - 1}, nil
	case "all":
		return strategies.Decision{Broadcast: true}, nil
	case "away":
		return strategies.Decision{Redirect: "other"}, nil
	case "upper":
		s := req.Payload.(*wrapperspb.StringValue).GetValue()
		return strategies.Decision{Target: 0, Payload: wrapperspb.String(strings.ToUpper(s))}, nil
	case "reject":
		return strategies.Decision{}, errNotAllowed
	case "already":
		return strategies.Decision{}, strategies.ErrRejected
	case "too-far":
		return strategies.Decision{Target: len(ms)}, nil
	case "negative":
		return strategies.Decision{Target: -1}, nil
	case "both":
		return strategies.Decision{Broadcast: true, Redirect: "other"}, nil
	case "by-option":
		for i, m := range ms {
			if m.Options["role"] == "archive" {
				return strategies.Decision{Target: i}, nil
			}
		}
		return strategies.Decision{}, errNotAllowed
	}
	return strategies.Decision{}, errors.New("unexpected tag " + req.Tag)
}

func TestFun(t *testing.T) {
	s, err := strategies.Fun(route)(nil)
	if err != nil {
		t.Fatal(err)
	}
	ms := members(3)
	ms[1].Options = map[string]string{"role": "archive"}
	p := s.Build(ms)
	tests := []struct {
		tag     string
		want    strategies.Decision
		wantErr []error
		wantMsg string
	}{
		{tag: "leader", want: strategies.Decision{Target: 0}},
		{tag: "last", want: strategies.Decision{Target: 2}},
		{tag: "all", want: strategies.Decision{Broadcast: true}},
		{tag: "away", want: strategies.Decision{Redirect: "other"}},
		{tag: "upper", want: strategies.Decision{Target: 0, Payload: wrapperspb.String("HELLO")}},
		{tag: "by-option", want: strategies.Decision{Target: 1}},
		{tag: "reject", wantErr: []error{strategies.ErrRejected, errNotAllowed}, wantMsg: "bourse: request rejected: tenant not allowed"},
		{tag: "already", wantErr: []error{strategies.ErrRejected}, wantMsg: "bourse: request rejected"},
		{tag: "too-far", wantErr: []error{strategies.ErrInvalidDecision}, wantMsg: "bourse: invalid strategy decision: Target 3 outside the 3 members"},
		{tag: "negative", wantErr: []error{strategies.ErrInvalidDecision}},
		{tag: "both", wantErr: []error{strategies.ErrInvalidDecision}},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			d, err := p.Pick(strategies.Request{Tag: tt.tag, Payload: wrapperspb.String("hello")})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if d.Target != tt.want.Target || d.Broadcast != tt.want.Broadcast || d.Redirect != tt.want.Redirect || !proto.Equal(d.Payload, tt.want.Payload) {
					t.Fatalf("Pick = %+v, want %+v", d, tt.want)
				}
				return
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Pick error %v is not %v", err, want)
				}
			}
			if tt.wantMsg != "" && (err == nil || err.Error() != tt.wantMsg) {
				t.Errorf("Pick error %q, want %q", err, tt.wantMsg)
			}
		})
	}

	var rej *strategies.RejectedError
	_, err = p.Pick(strategies.Request{Tag: "reject"})
	if !errors.As(err, &rej) || rej.Reason != errNotAllowed {
		t.Fatalf("errors.As(%v) = %+v, want Reason errNotAllowed", err, rej)
	}
}

func TestFunNotCalledForEmptyGroup(t *testing.T) {
	called := false
	s, err := strategies.Fun(func(strategies.Request, []strategies.Member) (strategies.Decision, error) {
		called = true
		return strategies.Decision{Redirect: "elsewhere"}, nil
	})(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(nil).Pick(strategies.Request{}); !errors.Is(err, strategies.ErrNoHandlers) {
		t.Fatalf("Pick = %v, want ErrNoHandlers", err)
	}
	if called {
		t.Fatal("the user function was called for an empty group")
	}
}

// The user function sees a copy of the members: the exchange may reuse its
// slice after Build.
func TestFunCopiesMembers(t *testing.T) {
	var seen string
	s, _ := strategies.Fun(func(_ strategies.Request, ms []strategies.Member) (strategies.Decision, error) {
		seen = ms[0].ID
		return strategies.Decision{}, nil
	})(nil)
	ms := members(2)
	p := s.Build(ms)
	ms[0].ID = "changed"
	if _, err := p.Pick(strategies.Request{}); err != nil {
		t.Fatal(err)
	}
	if seen != "h-00" {
		t.Fatalf("user function saw %q, want h-00", seen)
	}
}

func TestRejectedErrorNilReason(t *testing.T) {
	err := &strategies.RejectedError{}
	if !errors.Is(err, strategies.ErrRejected) || err.Error() != "bourse: request rejected" {
		t.Fatalf("RejectedError{} = %q", err)
	}
}
