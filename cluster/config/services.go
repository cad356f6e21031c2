package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bourse-go/bourse/cluster/deploy"
	"github.com/bourse-go/bourse/errs"
	"github.com/bourse-go/bourse/exchange"
)

// serviceKeys translates what a rule of deploy.Spec.Validate names below
// its field ("[0].Values[1]" of Selector.MatchExpressions) to the file's
// spelling.
var serviceKeys = strings.NewReplacer(".Key", ".key", ".Op", ".op", ".Values", ".values")

// services reads the services list from the document itself, as labels
// does: viper lowercases the keys of the mappings inside lists, and label
// keys and kind parameters are case-sensitive. The shape of every entry
// (known keys, mappings and lists where they belong) was checked against
// the schema already. Each spec is checked by deploy.Spec.Validate, the
// service names must be distinct, an exchange the file declares must be
// req-resp, and with WithKinds the kind must be registered.
func (p *parser) services(kinds *deploy.Kinds, exchanges []exchange.Spec) []deploy.Spec {
	if p.err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(p.lines.data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	list := child(doc.Content[0], "services")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil
	}
	declared := map[string]exchange.Kind{}
	for _, x := range exchanges {
		declared[x.Name] = x.Kind
	}
	specs := make([]deploy.Spec, 0, len(list.Content))
	first := map[string]int{}
	for i, e := range list.Content {
		r := nodeReader{p: p, at: fmt.Sprintf("services[%d]", i)}
		e = resolve(e)
		s := deploy.Spec{
			Name:        r.str(e, "name"),
			Exchange:    r.str(e, "exchange"),
			Kind:        r.str(e, "kind"),
			Mode:        deploy.Mode(r.str(e, "mode")),
			Total:       r.integer(e, "total"),
			MaxPerNode:  r.integer(e, "max_per_node"),
			ServiceTag:  r.str(e, "service_tag"),
			Params:      r.strMap(e, "params"),
			KeepPartial: r.boolean(e, "keep_partial"),
		}
		if sel := child(e, "selector"); sel != nil {
			sr := nodeReader{p: p, at: r.at + ".selector"}
			s.Selector.MatchLabels = sr.strMap(sel, "match_labels")
			if exprs := child(sel, "match_expressions"); exprs != nil && exprs.Kind == yaml.SequenceNode {
				for j, x := range exprs.Content {
					xr := nodeReader{p: p, at: fmt.Sprintf("%s.match_expressions[%d]", sr.at, j)}
					x = resolve(x)
					req := deploy.Requirement{Key: xr.str(x, "key"), Values: xr.strs(x, "values")}
					if op := xr.str(x, "op"); op != "" {
						o, err := deploy.ParseOperator(xr.at+".op", op)
						if err != nil {
							xr.fail(x, "op", err)
							return nil
						}
						req.Op = o
					} else if p.err == nil {
						p.failAt(problem(xr.at+".op", "missing (known: In, NotIn, Exists, DoesNotExist)"), x.Line)
					}
					s.Selector.MatchExpressions = append(s.Selector.MatchExpressions, req)
				}
			}
		}
		if p.err != nil {
			return nil
		}
		for _, k := range []string{"name", "exchange", "kind", "mode"} {
			if child(e, k) == nil {
				p.failAt(problem(r.at+"."+k, "missing: every service needs a %s%s", k, map[string]string{
					"mode": " (known: node-singleton, cluster-singleton, replicas)"}[k]), e.Line)
				return nil
			}
		}
		if err := s.Validate(); err != nil {
			p.serviceError(err, i)
			return nil
		}
		if j, dup := first[s.Name]; dup {
			r.fail(e, "name", fmt.Errorf("duplicate service name %q (services[%d] has it)", s.Name, j))
			return nil
		}
		first[s.Name] = i
		if k, ok := declared[s.Exchange]; ok && k != exchange.ReqResp {
			r.fail(e, "exchange", fmt.Errorf("exchange %q is %s: services answer requests, on a %s exchange", s.Exchange, k, exchange.ReqResp))
			return nil
		}
		if kinds != nil {
			if err := kinds.Check(s.Kind); err != nil {
				r.fail(e, "kind", err)
				return nil
			}
		}
		specs = append(specs, s)
	}
	return specs
}

// serviceError reports an error of deploy.Spec.Validate under the key of
// the field it names.
func (p *parser) serviceError(err error, i int) {
	var fe *errs.FieldError
	key := ""
	if errors.As(err, &fe) {
		// The rest of a field below the table's ("[0].Values[1]") is in Go's
		// spelling; a quoted label key is left as it is.
		if key = keyOf(fe.Field, i); !strings.Contains(key, `["`) {
			key = serviceKeys.Replace(key)
		}
	}
	if key == "" {
		p.fail(&Error{Key: fmt.Sprintf("services[%d]", i), Problem: strings.TrimPrefix(err.Error(), "bourse: "), Err: err}, false)
		return
	}
	p.badCause(key, "", err, "%s", fe.Problem)
}

// nodeReader reads the values of one mapping of the document, reporting a
// problem under at.KEY at the key's line.
type nodeReader struct {
	p  *parser
	at string
}

func (r nodeReader) fail(m *yaml.Node, key string, err error) {
	line := m.Line
	if k := keyNode(m, key); k != nil {
		line = k.Line
	}
	msg := err.Error()
	var fe *errs.FieldError
	if errors.As(err, &fe) {
		msg = fe.Problem
	}
	r.p.failAt(&Error{Key: r.at + "." + key, Problem: strings.TrimPrefix(msg, "bourse: "), Err: err}, line)
}

func (r nodeReader) bad(m *yaml.Node, key, format string, args ...any) {
	r.fail(m, key, fmt.Errorf(format, args...))
}

// scalar returns the value of key in m when it is a single value; nil when
// m has no such key or it is null.
func (r nodeReader) scalar(m *yaml.Node, key string) *yaml.Node {
	v := child(m, key)
	if v == nil || v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		r.bad(m, key, "want a single value, got %s", describeNode(v))
		return nil
	}
	return v
}

// str reads a string; integers are taken as written, as str does.
func (r nodeReader) str(m *yaml.Node, key string) string {
	v := r.scalar(m, key)
	if v == nil {
		return ""
	}
	if v.Tag != "!!str" && v.Tag != "!!int" {
		r.bad(m, key, "want a string, got %s", describeNode(v))
		return ""
	}
	return v.Value
}

// integer reads a whole number.
func (r nodeReader) integer(m *yaml.Node, key string) int {
	v := r.scalar(m, key)
	if v == nil {
		return 0
	}
	n, err := strconv.Atoi(v.Value)
	if v.Tag != "!!int" || err != nil {
		r.bad(m, key, "want an integer, got %s", describeNode(v))
		return 0
	}
	return n
}

// boolean reads true or false.
func (r nodeReader) boolean(m *yaml.Node, key string) bool {
	v := r.scalar(m, key)
	if v == nil {
		return false
	}
	b, err := strconv.ParseBool(v.Value)
	if v.Tag != "!!bool" || err != nil {
		r.bad(m, key, "want true or false, got %s", describeNode(v))
		return false
	}
	return b
}

// strs reads a list of single values, taken as written.
func (r nodeReader) strs(m *yaml.Node, key string) []string {
	v := child(m, key)
	if v == nil || v.Kind != yaml.SequenceNode {
		return nil // null, or another shape refused by the schema
	}
	out := make([]string, 0, len(v.Content))
	for j, e := range v.Content {
		e = resolve(e)
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			r.p.failAt(problem(fmt.Sprintf("%s.%s[%d]", r.at, key, j), "want a single value, got %s", describeNode(e)), e.Line)
			return nil
		}
		out = append(out, e.Value)
	}
	return out
}

// strMap reads a mapping of single values, keys and values as written.
func (r nodeReader) strMap(m *yaml.Node, key string) map[string]string {
	v := child(m, key)
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	out := make(map[string]string, len(v.Content)/2)
	for j := 0; j+1 < len(v.Content); j += 2 {
		k, e := resolve(v.Content[j]), resolve(v.Content[j+1])
		if k.Kind != yaml.ScalarNode {
			r.p.failAt(problem(r.at+"."+key, "a key must be a single value"), k.Line)
			return nil
		}
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			r.p.failAt(problem(fmt.Sprintf("%s.%s[%q]", r.at, key, k.Value), "want a single value, got %s", describeNode(e)), k.Line)
			return nil
		}
		out[k.Value] = e.Value
	}
	return out
}

// keyNode returns the key node of key in mapping m, or nil.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, key) {
			return m.Content[i]
		}
	}
	return nil
}
