package watermill_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bourse-go/bourse/actors"
	watermill "github.com/bourse-go/bourse/contrib/watermill"
)

func TestPublisherConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		key, want string
	}{
		{"", ""},
		{"orders.created", ""},
		{"a", ""},
		{"orders..created", `watermill.PublisherConfig.Key: "orders..created": has an empty word`},
		{"orders.*", `a routing key has no wildcards`},
		{"orders.#", `a routing key has no wildcards`},
		{strings.Repeat("a", 256), "longer than 255 bytes"},
	} {
		err := watermill.PublisherConfig{Key: tc.key}.Validate()
		check(t, "Key "+tc.key, err, tc.want)
	}
}

func TestSubscriberConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  watermill.SubscriberConfig
		want string
	}{
		{watermill.SubscriberConfig{}, ""},
		{watermill.DefaultSubscriberConfig(), ""},
		{watermill.SubscriberConfig{Pattern: "orders.*.eu.#"}, ""},
		{watermill.SubscriberConfig{Pattern: "orders.eu*"}, `watermill.SubscriberConfig.Pattern: "orders.eu*": a wildcard ('*', '#') must be a whole word`},
		{watermill.SubscriberConfig{Pattern: ".orders"}, "has an empty word"},
		{watermill.SubscriberConfig{Buffer: -1}, "watermill.SubscriberConfig.Buffer: is -1, want 0 (the default, 65536) or more"},
	} {
		check(t, "SubscriberConfig", tc.cfg.Validate(), tc.want)
	}
}

func check(t *testing.T, what string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: %v, want nil", what, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %v, want an error containing %q", what, err, want)
		return
	}
	var fe *actors.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, actors.ErrInvalid) {
		t.Errorf("%s: %v is not an *actors.FieldError wrapping actors.ErrInvalid", what, err)
	}
}

func TestConstructorsValidate(t *testing.T) {
	if _, err := watermill.NewPublisher(nil, watermill.PublisherConfig{}, nil); !errors.Is(err, actors.ErrInvalid) {
		t.Errorf("NewPublisher(nil broker): %v, want ErrInvalid", err)
	}
	if _, err := watermill.NewSubscriber(nil, watermill.SubscriberConfig{}, nil); !errors.Is(err, actors.ErrInvalid) {
		t.Errorf("NewSubscriber(nil broker): %v, want ErrInvalid", err)
	}
}
