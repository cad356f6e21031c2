package metrics

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/bourse-go/bourse/exchange"
	boursepb "github.com/bourse-go/bourse/proto"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of bourse's instruments.
const ScopeName = "github.com/bourse-go/bourse"

// Source is what Observe reads: a broker (*actors.Broker) or a hub
// (*exchange.Hub). Its methods must not block.
type Source interface {
	Exchanges() []exchange.Spec
	Stats(name string) (exchange.Stats, error)
	Handlers(name string) ([]*boursepb.HandlerInfo, error)
	LinkStats() (exchange.LinkStats, bool)
}

// Instruments are one node's instruments on a meter provider. As an
// exchange.Recorder (Config.Recorder) it records the durations and counts
// of the data path's calls; Observe adds the counters a Source keeps.
// Its methods are safe for concurrent use.
type Instruments struct {
	meter        metric.Meter
	sent         metric.Int64Counter
	opDuration   metric.Float64Histogram
	procDuration metric.Float64Histogram
	attrs        sync.Map // attrKey -> metric.MeasurementOption
}

var _ exchange.Recorder = (*Instruments)(nil)

// attrKey identifies the attribute set of one measurement of the data path.
type attrKey struct {
	exchange string
	op       exchange.Operation
	code     boursepb.Code // of the error; ok says whether there was one
	failed   bool
}

// New makes the instruments on mp.
func New(mp metric.MeterProvider) (*Instruments, error) {
	in := &Instruments{meter: mp.Meter(ScopeName)}
	var err, e error
	in.sent, e = in.meter.Int64Counter(ClientSentMessages, metric.WithUnit("{message}"),
		metric.WithDescription("Requests and publications this node's callers sent; failed ones carry error.type."))
	err = errors.Join(err, e)
	in.opDuration, e = in.meter.Float64Histogram(ClientOperationDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of a request (until its reply or error) or a publication (until it is handed over)."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	err = errors.Join(err, e)
	in.procDuration, e = in.meter.Float64Histogram(ProcessDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of a handler answering a request, or of a subscriber function taking a publication."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// Sent implements exchange.Recorder.
func (in *Instruments) Sent(name string, op exchange.Operation, d time.Duration, err error) {
	opt := in.attributes(name, op, err)
	ctx := context.Background()
	in.sent.Add(ctx, 1, opt)
	in.opDuration.Record(ctx, d.Seconds(), opt)
}

// Processed implements exchange.Recorder.
func (in *Instruments) Processed(name string, op exchange.Operation, d time.Duration, err error) {
	in.procDuration.Record(context.Background(), d.Seconds(), in.attributes(name, op, err))
}

// attributes returns the measurement option of (name, op, err), made once
// per distinct triple: exchanges and error codes are few.
func (in *Instruments) attributes(name string, op exchange.Operation, err error) metric.MeasurementOption {
	k := attrKey{exchange: name, op: op}
	if err != nil {
		k.code, k.failed = exchange.CodeOf(err), true
	}
	if v, ok := in.attrs.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	kv := []attribute.KeyValue{System, MessagingDestinationName.String(name), MessagingOperationName.String(string(op))}
	if k.failed {
		kv = append(kv, ErrorType.String(ErrorTypeOf(k.code)))
	}
	v, _ := in.attrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(kv...)))
	return v.(metric.MeasurementOption)
}

// ErrorTypeOf is the error.type of an error of code c: the sentinel's
// short name ("no_handlers" for ErrNoHandlers, "timeout", "node_down"...),
// "handler" for a handler's own failure.
func ErrorTypeOf(c boursepb.Code) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CODE_"))
}
