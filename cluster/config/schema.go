package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bourse-go/bourse/internal/suggest"
)

// shape is what a key's value must look like in the file. Types of single
// values (integer, duration...) are checked when the value is read, after the
// environment is applied; shapes are checked on the file alone, first, so
// that an unknown key is reported before anything else.
type shape int

const (
	leaf        shape = iota // one value: string, number, duration...
	leafList                 // a list of single values
	freeMapping              // a mapping of any keys (strategy parameters)
	section                  // a mapping of the keys in fields
	sectionList              // a list of sections
)

type schemaNode struct {
	shape  shape
	fields map[string]*schemaNode // section and sectionList
}

var (
	leafNode = &schemaNode{shape: leaf}
	listNode = &schemaNode{shape: leafList}
	freeNode = &schemaNode{shape: freeMapping}
)

func sectionOf(fields map[string]*schemaNode) *schemaNode {
	return &schemaNode{shape: section, fields: fields}
}

// schema is every key a file may hold. docs/configuration.md describes each
// (TestDocsCoverEveryKey checks).
var schema = sectionOf(map[string]*schemaNode{
	"node": sectionOf(map[string]*schemaNode{
		"name":      leafNode,
		"host":      leafNode,
		"port":      leafNode,
		"data_port": leafNode,
		"labels":    freeNode,
	}),
	"cluster": sectionOf(map[string]*schemaNode{
		"name":               leafNode,
		"heartbeat_interval": leafNode,
		"suspect_after":      leafNode,
		"lease_duration":     leafNode,
		"rebalance_interval": leafNode,
		"join_timeout":       leafNode,
		"tls": sectionOf(map[string]*schemaNode{
			"cert_file": leafNode,
			"key_file":  leafNode,
			"ca_file":   leafNode,
		}),
		"discovery": sectionOf(map[string]*schemaNode{
			"provider": leafNode,
			"peers":    listNode,
			"consul": sectionOf(map[string]*schemaNode{
				"address":          leafNode,
				"token":            leafNode,
				"ttl":              leafNode,
				"refresh_interval": leafNode,
				"deregister_after": leafNode,
				"wait_time":        leafNode,
			}),
		}),
	}),
	"broker": sectionOf(map[string]*schemaNode{
		"max_redirects": leafNode,
		"workers":       leafNode,
		"probation": sectionOf(map[string]*schemaNode{
			"failures":      leafNode,
			"eject":         leafNode,
			"max_eject":     leafNode,
			"ramp":          leafNode,
			"probe_timeout": leafNode,
		}),
		"subscribers": sectionOf(map[string]*schemaNode{
			"pending":  leafNode,
			"overflow": leafNode,
		}),
		"handlers": sectionOf(map[string]*schemaNode{
			"concurrency": leafNode,
			"queue":       leafNode,
		}),
	}),
	"exchanges": {shape: sectionList, fields: map[string]*schemaNode{
		"name":     leafNode,
		"kind":     leafNode,
		"strategy": leafNode,
		"params":   freeNode,
	}},
	"services": {shape: sectionList, fields: map[string]*schemaNode{
		"name":         leafNode,
		"exchange":     leafNode,
		"kind":         leafNode,
		"mode":         leafNode,
		"total":        leafNode,
		"max_per_node": leafNode,
		"service_tag":  leafNode,
		"keep_partial": leafNode,
		"params":       freeNode,
		"selector": sectionOf(map[string]*schemaNode{
			"match_labels": freeNode,
			"match_expressions": {shape: sectionList, fields: map[string]*schemaNode{
				"key":    leafNode,
				"op":     leafNode,
				"values": listNode,
			}},
		}),
	}},
	"log": sectionOf(map[string]*schemaNode{
		"level":  leafNode,
		"format": leafNode,
	}),
	"metrics": sectionOf(map[string]*schemaNode{
		"listen":     leafNode,
		"protoactor": leafNode,
	}),
	"status": sectionOf(map[string]*schemaNode{
		"listen": leafNode,
	}),
})

// envVars maps the keys the environment can set to their variables. Lists of
// exchanges cannot come from the environment: a file says what a service
// offers, the environment where it runs.
var envVars = []struct{ key, env string }{
	{"node.name", "BOURSE_NODE_NAME"},
	{"node.host", "BOURSE_NODE_HOST"},
	{"node.port", "BOURSE_NODE_PORT"},
	{"node.data_port", "BOURSE_NODE_DATA_PORT"},
	{"metrics.listen", "BOURSE_METRICS_LISTEN"},
	{"metrics.protoactor", "BOURSE_METRICS_PROTOACTOR"},
	{"status.listen", "BOURSE_STATUS_LISTEN"},
	{"cluster.name", "BOURSE_CLUSTER_NAME"},
	{"cluster.heartbeat_interval", "BOURSE_CLUSTER_HEARTBEAT_INTERVAL"},
	{"cluster.suspect_after", "BOURSE_CLUSTER_SUSPECT_AFTER"},
	{"cluster.lease_duration", "BOURSE_CLUSTER_LEASE_DURATION"},
	{"cluster.rebalance_interval", "BOURSE_CLUSTER_REBALANCE_INTERVAL"},
	{"cluster.join_timeout", "BOURSE_CLUSTER_JOIN_TIMEOUT"},
	{"cluster.tls.cert_file", "BOURSE_CLUSTER_TLS_CERT_FILE"},
	{"cluster.tls.key_file", "BOURSE_CLUSTER_TLS_KEY_FILE"},
	{"cluster.tls.ca_file", "BOURSE_CLUSTER_TLS_CA_FILE"},
	{"cluster.discovery.provider", "BOURSE_DISCOVERY_PROVIDER"},
	{"cluster.discovery.peers", "BOURSE_DISCOVERY_PEERS"},
	{"cluster.discovery.consul.address", "BOURSE_CONSUL_ADDRESS"},
	{"cluster.discovery.consul.token", "BOURSE_CONSUL_TOKEN"},
	{"cluster.discovery.consul.ttl", "BOURSE_CONSUL_TTL"},
	{"cluster.discovery.consul.refresh_interval", "BOURSE_CONSUL_REFRESH_INTERVAL"},
	{"cluster.discovery.consul.deregister_after", "BOURSE_CONSUL_DEREGISTER_AFTER"},
	{"cluster.discovery.consul.wait_time", "BOURSE_CONSUL_WAIT_TIME"},
	{"broker.max_redirects", "BOURSE_BROKER_MAX_REDIRECTS"},
	{"broker.workers", "BOURSE_BROKER_WORKERS"},
	{"broker.probation.failures", "BOURSE_BROKER_PROBATION_FAILURES"},
	{"broker.probation.eject", "BOURSE_BROKER_PROBATION_EJECT"},
	{"broker.probation.max_eject", "BOURSE_BROKER_PROBATION_MAX_EJECT"},
	{"broker.probation.ramp", "BOURSE_BROKER_PROBATION_RAMP"},
	{"broker.probation.probe_timeout", "BOURSE_BROKER_PROBATION_PROBE_TIMEOUT"},
	{"broker.subscribers.pending", "BOURSE_BROKER_SUBSCRIBERS_PENDING"},
	{"broker.subscribers.overflow", "BOURSE_BROKER_SUBSCRIBERS_OVERFLOW"},
	{"broker.handlers.concurrency", "BOURSE_BROKER_HANDLERS_CONCURRENCY"},
	{"broker.handlers.queue", "BOURSE_BROKER_HANDLERS_QUEUE"},
	{"log.level", "BOURSE_LOG_LEVEL"},
	{"log.format", "BOURSE_LOG_FORMAT"},
}

// envVar returns the environment variable of key, or "".
func envVar(key string) string {
	for _, e := range envVars {
		if e.key == key {
			return e.env
		}
	}
	return ""
}

// checkShape walks the file's settings v against s and reports the first
// unknown key or misshapen value, in the order of sorted keys so that the
// same file always gives the same error.
func checkShape(path string, v any, s *schemaNode) *Error {
	if v == nil {
		return nil // an empty key: "node:" alone, or "peers: ~"
	}
	switch s.shape {
	case leaf:
		if isCollection(v) {
			return problem(path, "want a single value, got %s", describe(v))
		}
	case leafList:
		l, ok := v.([]any)
		if !ok {
			return problem(path, "want a list, got %s", describe(v))
		}
		for i, e := range l {
			if isCollection(e) {
				return problem(fmt.Sprintf("%s[%d]", path, i), "want a single value, got %s", describe(e))
			}
		}
	case freeMapping:
		if _, ok := asMap(v); !ok {
			return problem(path, "want a mapping, got %s", describe(v))
		}
	case section:
		m, ok := asMap(v)
		if !ok {
			return problem(path, "want a mapping with keys %s, got %s", strings.Join(sortedKeys(s.fields), ", "), describe(v))
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			child, known := s.fields[k]
			if !known {
				return problem(join(path, k), "unknown key%s", choices(k, sortedKeys(s.fields)))
			}
			if e := checkShape(join(path, k), m[k], child); e != nil {
				return e
			}
		}
	case sectionList:
		l, ok := v.([]any)
		if !ok {
			return problem(path, "want a list, got %s", describe(v))
		}
		for i, e := range l {
			if e == nil {
				return problem(fmt.Sprintf("%s[%d]", path, i), "empty entry")
			}
			if err := checkShape(fmt.Sprintf("%s[%d]", path, i), e, sectionOf(s.fields)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// asMap returns v as a mapping. YAML decodes mappings whose keys are not all
// strings as map[any]any; their keys are printed.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

func isCollection(v any) bool {
	if _, ok := asMap(v); ok {
		return true
	}
	_, ok := v.([]any)
	return ok
}

// describe names a value in an error message: "a mapping", "the string
// \"abc\"", "the number 5".
func describe(v any) string {
	if _, ok := asMap(v); ok {
		return "a mapping"
	}
	switch x := v.(type) {
	case nil:
		return "nothing"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprintf("the number %v", x)
	}
	return fmt.Sprintf("a %T", v)
}

// problem makes an *Error for key; the parser fills in the file and line.
func problem(key, format string, args ...any) *Error {
	return &Error{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// checkNotEmpty refuses a file that sets nothing: no key at all, only empty
// sections, or no section the schema knows.
func checkNotEmpty(settings map[string]any) *Error {
	sections := slices.Sorted(maps.Keys(schema.fields))
	want := "want at least one of the sections " + strings.Join(sections, ", ")
	var unknown []string
	for k := range settings {
		if _, ok := schema.fields[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	switch {
	case len(settings) == 0:
		return &Error{Problem: "the file is empty: " + want, Err: ErrEmpty}
	case len(unknown) == len(settings):
		problem := fmt.Sprintf("no known section, only %s: %s", strings.Join(unknown, ", "), want)
		for _, u := range unknown {
			if m := suggest.Closest(u, sections); m != "" {
				problem += fmt.Sprintf("; did you mean %q for %q?", m, u)
				break
			}
		}
		return &Error{Problem: problem, Err: ErrEmpty}
	case len(unknown) == 0 && !setsSomething(settings):
		return &Error{Problem: "every section is empty: " + want + " with a key in it", Err: ErrEmpty}
	}
	return nil
}

// setsSomething tells whether v holds a value: a scalar, a non-empty list,
// or a mapping with a value somewhere in it.
func setsSomething(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case map[string]any:
		for _, e := range x {
			if setsSomething(e) {
				return true
			}
		}
		return false
	case []any:
		return len(x) > 0
	}
	return true
}
