package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lineIndex finds the line of a key path in a YAML document, for error
// messages. viper keeps no positions, so the document is parsed a second
// time into yaml.Nodes, and only when an error needs a line.
type lineIndex struct {
	data   []byte
	root   *yaml.Node
	parsed bool
}

// line returns the 1-based line of path ("exchanges[2].strategy"): of the
// key when the path ends on a mapping key, of the item for a list index. A
// path that leaves the document (a missing key, or keys viper split at dots)
// gets the line of its deepest part that is in the document; 0 when nothing
// is.
func (x *lineIndex) line(path string) int {
	if x == nil || path == "" {
		return 0
	}
	if !x.parsed {
		x.parsed = true
		var doc yaml.Node
		if yaml.Unmarshal(x.data, &doc) == nil && len(doc.Content) > 0 {
			x.root = doc.Content[0]
		}
	}
	n, line := x.root, 0
	for _, seg := range splitPath(path) {
		if n == nil {
			break
		}
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		if i, err := strconv.Atoi(seg); err == nil && n.Kind == yaml.SequenceNode {
			if i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		} else if n.Kind == yaml.MappingNode {
			// viper lowercases keys; the file may not have.
			for j := 0; j+1 < len(n.Content); j += 2 {
				if strings.EqualFold(n.Content[j].Value, seg) {
					next = n.Content[j+1]
					line = n.Content[j].Line
					break
				}
			}
		}
		n = next
	}
	return line
}

// splitPath splits "exchanges[2].strategy" into "exchanges", "2",
// "strategy", and `node.labels["bourse.io/zone"]` into "node", "labels",
// "bourse.io/zone": a quoted segment is one, dots and all.
func splitPath(path string) []string {
	var segs []string
	for path != "" {
		if strings.HasPrefix(path, `["`) {
			if q, err := strconv.QuotedPrefix(path[1:]); err == nil && strings.HasPrefix(path[1+len(q):], "]") {
				u, _ := strconv.Unquote(q)
				segs = append(segs, u)
				path = path[1+len(q)+1:]
				continue
			}
		}
		i := strings.IndexAny(path, ".[]")
		switch {
		case i < 0:
			segs = append(segs, path)
			path = ""
		case i == 0:
			path = path[1:]
		default:
			segs = append(segs, path[:i])
			path = path[i:]
		}
	}
	return segs
}
