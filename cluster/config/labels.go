package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bourse-go/bourse/cluster/deploy"
)

// labels reads node.labels from the document itself, not from viper:
// viper lowercases keys and splits them at dots, and label keys are
// case-sensitive and often dotted ("bourse.io/zone"). Each key and value is
// checked here, where the line of the label is known. Values are taken as
// written: zone: 1 is "1". There is no environment variable: a node's
// labels come from its file (or WithOverride).
func (p *parser) labels() map[string]string {
	if p.err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(p.lines.data, &doc) != nil || len(doc.Content) == 0 {
		return nil // viper read it; a document it read but yaml cannot is not one with labels
	}
	n := child(child(doc.Content[0], "node"), "labels")
	if n == nil || n.Kind != yaml.MappingNode {
		return nil // absent or null; another shape was refused already
	}
	labels := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		key := "node.labels"
		if k.Kind != yaml.ScalarNode {
			p.failAt(problem(key, "a label's key must be a single value"), k.Line)
			return nil
		}
		key += "[" + strconv.Quote(k.Value) + "]"
		if pr := deploy.CheckLabelKey(k.Value); pr != "" {
			p.failAt(problem(key, "key %s", pr+deploy.LabelSyntax), k.Line)
			return nil
		}
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			p.failAt(problem(key, "want a single value, got %s", describeNode(v)), k.Line)
			return nil
		}
		if pr := deploy.CheckLabelValue(v.Value); pr != "" {
			p.failAt(problem(key, "value %s", pr+deploy.LabelSyntax), k.Line)
			return nil
		}
		labels[k.Value] = v.Value
	}
	if len(labels) == 0 {
		return nil
	}
	return labels
}

// failAt is fail for a value from the file whose line is known.
func (p *parser) failAt(e *Error, line int) {
	p.fail(e, true) // true: fail looks no line up
	if p.err == e {
		e.Line = line
	}
}

// child returns the value of key in mapping n (keys compared as viper
// does, ignoring case), or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if strings.EqualFold(n.Content[i].Value, key) {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describeNode(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!null":
		return "nothing"
	}
	return "the value " + strconv.Quote(n.Value)
}
