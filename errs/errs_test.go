package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bourse-go/bourse/errs"
)

func TestFieldError(t *testing.T) {
	cause := errs.New("bourse: static: invalid peer address")
	tests := []struct {
		name string
		err  error
		msg  string
		is   []error
	}{
		{"plain", errs.Field("cluster.Config.Port", "is %d, want 0..65535", 70000),
			"bourse: cluster.Config.Port: is 70000, want 0..65535", []error{errs.ErrInvalid}},
		{"with cause", &errs.FieldError{Field: "static.Peers[1]", Problem: `"x" is not host:port`, Err: cause},
			`bourse: static.Peers[1]: "x" is not host:port`, []error{errs.ErrInvalid, cause}},
		{"renamed", errs.Rename(errs.Field("exchange.Config.MaxRedirects", "is 70"), "exchange.Config.", "cluster.Config.Exchange."),
			"bourse: cluster.Config.Exchange.MaxRedirects: is 70", []error{errs.ErrInvalid}},
		{"wrapped", fmt.Errorf("start: %w", errs.Field("consul.Config.Address", "is empty")),
			"start: bourse: consul.Config.Address: is empty", []error{errs.ErrInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.msg {
				t.Errorf("Error() = %q, want %q", got, tt.msg)
			}
			for _, target := range tt.is {
				if !errors.Is(tt.err, target) {
					t.Errorf("errors.Is(%v, %v) = false", tt.err, target)
				}
			}
			var fe *errs.FieldError
			if !errors.As(tt.err, &fe) || fe.Field == "" || fe.Problem == "" {
				t.Errorf("errors.As(*FieldError) = %v, %+v", fe != nil, fe)
			}
		})
	}
}

func TestRenameLeavesOthers(t *testing.T) {
	other := errors.New("x")
	if got := errs.Rename(other, "a.", "b."); got != other {
		t.Errorf("Rename(other) = %v", got)
	}
	fe := errs.Field("consul.Config.TTL", "is 0")
	if got := errs.Rename(fe, "exchange.", "cluster."); got != error(fe) {
		t.Errorf("Rename(no prefix) = %v", got)
	}
}

func TestNew(t *testing.T) {
	a, b := errs.New("bourse: a"), errs.New("bourse: a")
	if !errors.Is(a, errs.ErrInvalid) || errors.Is(a, b) || a.Error() != "bourse: a" {
		t.Errorf("New: Is(ErrInvalid) = %v, Is(other) = %v, %q", errors.Is(a, errs.ErrInvalid), errors.Is(a, b), a)
	}
}

func ExampleFieldError() {
	err := fmt.Errorf("starting: %w", errs.Field("cluster.Config.Port", "is %d, want 0..65535", 70000))
	var fe *errs.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field)
		fmt.Println(fe.Problem)
	}
	fmt.Println(errors.Is(err, errs.ErrInvalid))
	// Output:
	// cluster.Config.Port
	// is 70000, want 0..65535
	// true
}
