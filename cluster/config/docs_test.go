package config

import (
	"os"
	"strings"
	"testing"
)

// leafKeys lists the key paths of s, "exchanges[].name" for the fields of
// list entries.
func leafKeys(path string, s *schemaNode) []string {
	switch s.shape {
	case section:
		var out []string
		for _, k := range sortedKeys(s.fields) {
			out = append(out, leafKeys(join(path, k), s.fields[k])...)
		}
		return out
	case sectionList:
		return leafKeys(path+"[]", sectionOf(s.fields))
	}
	return []string{path}
}

// docs/configuration.md is the reference of keys: it must name every key and
// environment variable the loader knows.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := leafKeys("", schema)
	if len(keys) < 20 {
		t.Fatalf("only %d keys: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not describe `%s`", k)
		}
	}
	for _, e := range envVars {
		if !strings.Contains(string(doc), "`"+e.env+"`") {
			t.Errorf("docs/configuration.md does not name `%s`", e.env)
		}
		if !contains(keys, e.key) {
			t.Errorf("environment variable %s sets %s, which is not a key", e.env, e.key)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
