package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/bourse-go/bourse/actors"
	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/errs"
	"google.golang.org/protobuf/proto"
)

func echo(context.Context, deploy.Spec, int) (deploy.Instance, error) {
	return deploy.Instance{Handler: actors.HandlerFunc(func(_ context.Context, r *actors.Request) (proto.Message, error) {
		return r.Payload, nil
	})}, nil
}

func TestKinds(t *testing.T) {
	var k deploy.Kinds // the zero value is ready
	if err := k.Register("order-book", echo); err != nil {
		t.Fatal(err)
	}
	if err := k.Register("market-data", echo); err != nil {
		t.Fatal(err)
	}
	if err := k.Register("order-book", echo); !errors.Is(err, deploy.ErrDuplicateKind) {
		t.Errorf("duplicate: %v, want ErrDuplicateKind", err)
	}
	for _, bad := range []struct {
		name string
		c    deploy.Constructor
	}{{"", echo}, {"-x", echo}, {"a b", echo}, {"nil", nil}} {
		if err := k.Register(bad.name, bad.c); !errors.Is(err, deploy.ErrInvalidKind) || !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("Register(%q) = %v, want ErrInvalidKind", bad.name, err)
		}
	}
	if got := fmt.Sprint(k.Names()); got != "[market-data order-book]" {
		t.Errorf("Names() = %s", got)
	}
	if err := k.Check("order-book"); err != nil {
		t.Errorf("Check(order-book) = %v", err)
	}
	err := k.Check("order_book")
	var uk *deploy.UnknownKindError
	if !errors.As(err, &uk) || !errors.Is(err, deploy.ErrUnknownKind) || !errors.Is(err, errs.ErrInvalid) || uk.Suggestion != "order-book" {
		t.Fatalf("Check(order_book) = %#v", err)
	}
	const want = `bourse: deploy: unknown service kind "order_book" (known: market-data, order-book); did you mean "order-book"?`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if err := deploy.NewKinds().Check("x"); err == nil || err.Error() != `bourse: deploy: unknown service kind "x" (known: none)` {
		t.Errorf("empty registry: %v", err)
	}
}

func TestKindsNew(t *testing.T) {
	k := deploy.NewKinds()
	boom := errors.New("feed unreachable")
	var got []string
	_ = k.Register("echo", func(ctx context.Context, s deploy.Spec, slot int) (deploy.Instance, error) {
		got = append(got, fmt.Sprintf("%s/%d", s.Name, slot))
		return echo(ctx, s, slot)
	})
	_ = k.Register("fails", func(context.Context, deploy.Spec, int) (deploy.Instance, error) { return deploy.Instance{}, boom })
	_ = k.Register("empty", func(context.Context, deploy.Spec, int) (deploy.Instance, error) { return deploy.Instance{}, nil })
	ctx := context.Background()
	if in, err := k.New(ctx, deploy.Spec{Name: "svc", Kind: "echo"}, 3); err != nil || in.Handler == nil || fmt.Sprint(got) != "[svc/3]" {
		t.Errorf("New(echo) = %v, %v; constructor saw %v", in, err, got)
	}
	if _, err := k.New(ctx, deploy.Spec{Name: "svc", Kind: "fails"}, 0); !errors.Is(err, boom) {
		t.Errorf("New(fails) = %v, want the constructor's error", err)
	}
	if _, err := k.New(ctx, deploy.Spec{Name: "svc", Kind: "empty"}, 0); !errors.Is(err, deploy.ErrInvalidKind) {
		t.Errorf("New(empty) = %v, want ErrInvalidKind", err)
	}
	if _, err := k.New(ctx, deploy.Spec{Name: "svc", Kind: "ech"}, 0); !errors.Is(err, deploy.ErrUnknownKind) {
		t.Errorf("New(ech) = %v, want ErrUnknownKind", err)
	}
}

// Register, Lookup, Names and New from many goroutines (run with -race).
func TestKindsConcurrent(t *testing.T) {
	k := deploy.NewKinds()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("kind-%d", i)
			if err := k.Register(name, echo); err != nil {
				t.Error(err)
			}
			_ = k.Names()
			if _, err := k.New(context.Background(), deploy.Spec{Name: "s", Kind: name}, i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(k.Names()) != 8 {
		t.Errorf("Names() = %v", k.Names())
	}
}
