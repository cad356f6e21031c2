// Package config loads a bourse node and its exchanges from one YAML file.
//
// Load (or Parse, for bytes) reads the file with viper, lets environment
// variables override it, checks every key, and returns a File: a plain
// cluster.Config with its Discovery built, and the actors.Specs to declare.
// Start starts the node and declares them. The core packages never see viper:
// they take the structs a File holds.
//
//	node: {name: md-1, host: 127.0.0.1, port: 7101}
//	cluster:
//	  name: trading
//	  discovery: {provider: static, peers: ["127.0.0.1:7102"]}
//	exchanges:
//	  - {name: orders, kind: req-resp, strategy: sticky}
//	  - {name: prices, kind: pub-sub}
//
// Precedence, lowest first: the defaults of cluster.DefaultConfig, the file,
// the environment (BOURSE_NODE_PORT and the others that
// docs/configuration.md lists), then the functions given with WithOverride.
//
// Every problem with a file is an *Error wrapping ErrInvalid that names the
// file, the line when the YAML gives one, the key path and the problem, and
// lists the valid choices when there are some:
//
//	bourse: node.yaml:9: exchanges[1].strategy: unknown strategy "round_robin" (known: consensus, ..., sticky-fun); did you mean "round-robin"?
//
// A rule of the core (cluster.Config.Validate and the others) reports the
// key of the field it names, through one table from fields to keys; the
// *Error wraps the core's *errs.FieldError. Malformed YAML names the real
// line and column at fault and shows them marked (Error.Excerpt):
//
//	bourse: node.yaml:7:2: malformed YAML: did not find expected key
//	6 |   heartbeat_interval: 200ms
//	7 |  suspect_after: 1s
//	  |  ^
//
// A file that sets nothing (empty, only comments or empty sections, or no
// known section) is an error wrapping ErrEmpty.
//
// Unknown keys are errors, never silently ignored. Keys are
// case-insensitive (viper lowercases them), strategy parameters included.
// The node's labels (node.labels) and the services section are read from
// the document itself, keeping the case and the dots of label keys and
// service parameters.
//
// The services section describes services the cluster places
// (deploy.Spec, in File.Services); their kinds are checked with WithKinds
// (which also gives them to the node, cluster.Config.Kinds), and Start
// applies them to the cluster (cluster.Node.Apply; docs/deploy.md).
//
// The full reference of keys is docs/configuration.md.
package config
