package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bourse-go/bourse/errs"
)

// keys maps the fields the core's errors name (errs.FieldError.Field) to
// the file's keys: it is how a rule of cluster.Config.Validate, of
// exchange.Spec.Validate, of consul.Config.Validate or of static.Parse
// reports the key, file and line, without the loader repeating the rule. A
// field matches its longest prefix here, and keeps the rest ("[2]" of
// "static.Peers[2]"); "[i]" in a key stands for the index of the exchange
// being read (or of the service, for deploy.Spec). TestEveryCoreRuleHasAKey breaks each rule once and checks
// that its field is here.
var keys = []struct{ field, key string }{
	{"cluster.Config.Cluster", "cluster.name"},
	{"cluster.Config.Node", "node.name"},
	{"cluster.Config.Host", "node.host"},
	{"cluster.Config.Port", "node.port"},
	{"cluster.Config.DataPort", "node.data_port"},
	{"cluster.Config.Labels", "node.labels"},
	{"cluster.Config.HeartbeatInterval", "cluster.heartbeat_interval"},
	{"cluster.Config.SuspectAfter", "cluster.suspect_after"},
	{"cluster.Config.JoinTimeout", "cluster.join_timeout"},
	{"cluster.Config.Exchange.Node", "node.name"},
	{"cluster.Config.Exchange.MaxRedirects", "broker.max_redirects"},
	{"cluster.Config.Exchange.Workers", "broker.workers"},
	{"cluster.Config.Exchange.Probation.Failures", "broker.probation.failures"},
	{"cluster.Config.Exchange.Probation.Eject", "broker.probation.eject"},
	{"cluster.Config.Exchange.Probation.MaxEject", "broker.probation.max_eject"},
	{"cluster.Config.Exchange.Probation.Ramp", "broker.probation.ramp"},
	{"cluster.Config.Exchange.Probation.ProbeTimeout", "broker.probation.probe_timeout"},
	{"cluster.Config.Exchange.Subscribers.Pending", "broker.subscribers.pending"},
	{"cluster.Config.Exchange.Subscribers.Overflow", "broker.subscribers.overflow"},
	{"cluster.Config.Exchange.Handlers.Concurrency", "broker.handlers.concurrency"},
	{"cluster.Config.Exchange.Handlers.Queue", "broker.handlers.queue"},
	{"cluster.Config.Exchange.LeaseDuration", "cluster.lease_duration"},
	{"cluster.Config.RebalanceInterval", "cluster.rebalance_interval"},
	{"cluster.Config.MetricsListen", "metrics.listen"},
	{"cluster.Config.MetricsProtoactor", "metrics.protoactor"},
	{"cluster.Config.StatusListen", "status.listen"},
	{"static.Peers", "cluster.discovery.peers"},
	{"consul.Config.Address", "cluster.discovery.consul.address"},
	{"consul.Config.Token", "cluster.discovery.consul.token"},
	{"consul.Config.TTL", "cluster.discovery.consul.ttl"},
	{"consul.Config.RefreshInterval", "cluster.discovery.consul.refresh_interval"},
	{"consul.Config.DeregisterAfter", "cluster.discovery.consul.deregister_after"},
	{"consul.Config.WaitTime", "cluster.discovery.consul.wait_time"},
	{"exchange.Spec.Name", "exchanges[i].name"},
	{"exchange.Spec.Kind", "exchanges[i].kind"},
	{"exchange.Spec.Strategy", "exchanges[i].strategy"},
	{"exchange.Spec.Params", "exchanges[i].params"},
	{"deploy.Spec.Name", "services[i].name"},
	{"deploy.Spec.Exchange", "services[i].exchange"},
	{"deploy.Spec.Kind", "services[i].kind"},
	{"deploy.Spec.Mode", "services[i].mode"},
	{"deploy.Spec.Total", "services[i].total"},
	{"deploy.Spec.MaxPerNode", "services[i].max_per_node"},
	{"deploy.Spec.ServiceTag", "services[i].service_tag"},
	{"deploy.Spec.KeepPartial", "services[i].keep_partial"},
	{"deploy.Spec.Params", "services[i].params"},
	{"deploy.Spec.Selector.MatchLabels", "services[i].selector.match_labels"},
	{"deploy.Spec.Selector.MatchExpressions", "services[i].selector.match_expressions"},
}

// keyOf returns the file's key of a core field, with i as the exchange's
// index, or "" when the table has no prefix of field.
func keyOf(field string, i int) string {
	best := -1
	for j, k := range keys {
		if strings.HasPrefix(field, k.field) && (best < 0 || len(k.field) > len(keys[best].field)) {
			rest := field[len(k.field):]
			if rest == "" || rest[0] == '[' || rest[0] == '.' {
				best = j
			}
		}
	}
	if best < 0 {
		return ""
	}
	key := keys[best].key + field[len(keys[best].field):]
	return strings.Replace(key, "[i]", fmt.Sprintf("[%d]", i), 1)
}

// coreError records an error of the core: an *errs.FieldError is reported
// under its field's key (i is the exchange's index for fields of
// exchange.Spec, -1 otherwise), saying where the value came from when it
// was the environment; any other error (or a field missing from keys) is
// reported for the whole file. The *Error wraps err.
func (p *parser) coreError(err error, i int) {
	var fe *errs.FieldError
	if !errors.As(err, &fe) {
		p.fail(&Error{Problem: strings.TrimPrefix(err.Error(), "bourse: "), Err: err}, false)
		return
	}
	key := keyOf(fe.Field, i)
	if key == "" {
		p.fail(&Error{Problem: strings.TrimPrefix(err.Error(), "bourse: "), Err: err}, false)
		return
	}
	envKey, _, _ := strings.Cut(key, "[") // one variable holds a whole list
	_, env := p.get(envKey)
	p.badCause(key, env, err, "%s", fe.Problem)
}
