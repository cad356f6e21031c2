// Package metrics is bourse's OpenTelemetry instrumentation of a node: the
// messaging semantic conventions' client and process metrics
// (messaging.client.sent.messages, messaging.client.operation.duration,
// messaging.client.consumed.messages, messaging.process.duration) and
// bourse's own (handlers per exchange, leader changes, network messages of
// publications, drops by reason, probation, the data link), and the
// Prometheus endpoint that serves them (Endpoint).
//
// The data path pays nothing for what it already counts: every counter of
// exchange.Stats and exchange.LinkStats, and the link's round-trip time per
// peer (exchange.LinkPeerStats), is read by observable instruments when the
// endpoint is scraped (Observe). Only the calls' counts and
// durations need a hook on the data path, exchange.Recorder, which
// Instruments implements with atomic counters and histograms of its own
// that it produces for the exporter (an sdkmetric.Producer); a node
// without metrics has no Recorder, and the data path then pays one nil
// check per call. With one, a call pays an atomic add into its count, and
// the clock only where it matters: calls faster than exchange.SampleBelow
// (50 µs), whose two readings of the clock (20-50 ns each here) would cost
// more than the rest of their metrics, are timed one in
// exchange.SampleOneIn, slower ones every time; the caller's start shares
// the reading of its deadline, and the hub holds each exchange's
// measurements (Bind, no lookup by name). The counters are striped, so
// that callers on different cores do not take turns on one cache line.
// protoactor's own instruments are switched on apart (ActorSystemOptions),
// for they cost far more.
//
// The OpenTelemetry modules are those protoactor pins (metric and sdk
// v1.21.0, exporters/prometheus v0.44.0); that version predates the
// messaging metric names, so names.go defines them.
package metrics
