package watermill

import (
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/bourse-go/bourse/errs"
)

// DefaultKey is the routing key a Publisher gives its publications when its
// configuration names none.
const DefaultKey = "watermill"

// DefaultPattern is the pattern of a Subscriber's subscriptions when its
// configuration names none: every routing key.
const DefaultPattern = "#"

// DefaultBuffer is how many messages a Subscriber holds per topic, waiting
// for a consumer, when its configuration says nothing.
const DefaultBuffer = 1 << 16

// maxWords is bourse's bound on a routing key or pattern, in bytes.
const maxWords = 255

// PublisherConfig configures a Publisher. The zero value is valid: every
// field has a default.
type PublisherConfig struct {
	// Key is the routing key of every publication ("orders.created"):
	// dotted non-empty words without '*' or '#', at most 255 bytes. "" is
	// DefaultKey. Subscribers, Watermill's or bourse's own, select on it
	// with their pattern.
	Key string
	// KeyFunc, when set, gives each message its routing key instead of Key
	// (for example from its metadata). A key it returns that bourse refuses
	// fails that Publish with an error wrapping actors.ErrInvalid.
	KeyFunc func(topic string, msg *message.Message) string
}

// DefaultPublisherConfig returns a PublisherConfig with every default
// written out.
func DefaultPublisherConfig() PublisherConfig {
	return PublisherConfig{Key: DefaultKey}
}

// Validate reports a malformed configuration as an *errs.FieldError naming
// the field (it wraps errs.ErrInvalid, which is actors.ErrInvalid).
func (c PublisherConfig) Validate() error {
	if c.Key != "" {
		if problem := checkWords(c.Key, false); problem != "" {
			return errs.Field("watermill.PublisherConfig.Key", "%q: %s", c.Key, problem)
		}
	}
	return nil
}

func (c PublisherConfig) withDefaults() PublisherConfig {
	if c.Key == "" {
		c.Key = DefaultKey
	}
	return c
}

// SubscriberConfig configures a Subscriber. The zero value is valid: every
// field has a default.
type SubscriberConfig struct {
	// Pattern selects the routing keys the Subscriber receives on each
	// topic: dotted words where "*" stands for one word and "#" for zero or
	// more, at most 255 bytes. "" is DefaultPattern ("#", all of them).
	Pattern string
	// Buffer bounds how many messages the Subscriber holds per topic while
	// no consumer takes them (Nacked ones included). A message that
	// arrives at a full topic is dropped and logged at error level. 0 is
	// DefaultBuffer.
	Buffer int
}

// DefaultSubscriberConfig returns a SubscriberConfig with every default
// written out.
func DefaultSubscriberConfig() SubscriberConfig {
	return SubscriberConfig{Pattern: DefaultPattern, Buffer: DefaultBuffer}
}

// Validate reports a malformed configuration as an *errs.FieldError naming
// the field (it wraps errs.ErrInvalid, which is actors.ErrInvalid).
func (c SubscriberConfig) Validate() error {
	if c.Pattern != "" {
		if problem := checkWords(c.Pattern, true); problem != "" {
			return errs.Field("watermill.SubscriberConfig.Pattern", "%q: %s", c.Pattern, problem)
		}
	}
	if c.Buffer < 0 {
		return errs.Field("watermill.SubscriberConfig.Buffer", "is %d, want 0 (the default, %d) or more", c.Buffer, DefaultBuffer)
	}
	return nil
}

func (c SubscriberConfig) withDefaults() SubscriberConfig {
	if c.Pattern == "" {
		c.Pattern = DefaultPattern
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	return c
}

// checkWords applies bourse's rule for routing keys (pattern false) and
// patterns (pattern true), and says what is wrong, or "". It repeats
// bourse's internal/topic rule, which no public package exports; bourse
// itself checks again at Publish and Subscribe.
func checkWords(s string, pattern bool) string {
	if len(s) > maxWords {
		return "longer than 255 bytes"
	}
	for _, w := range strings.Split(s, ".") {
		switch {
		case w == "":
			return "has an empty word"
		case pattern && (w == "*" || w == "#"):
		case strings.ContainsAny(w, "*#"):
			if pattern {
				return "a wildcard ('*', '#') must be a whole word"
			}
			return "a routing key has no wildcards ('*', '#')"
		}
	}
	return ""
}
