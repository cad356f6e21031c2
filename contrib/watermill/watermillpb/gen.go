// Package watermillpb holds the wire form of a Watermill message on a bourse
// exchange, generated from envelope.proto with google.golang.org/protobuf.
// bourse code that publishes to, or subscribes on, an exchange that
// Watermill's publishers and subscribers use (package
// github.com/bourse-go/bourse/contrib/watermill) reads and writes Envelope.
//
// To regenerate, from contrib/watermill (protoc from Debian's
// protobuf-compiler; the plugin version is pinned to this module's
// google.golang.org/protobuf):
//
//	go generate ./watermillpb
package watermillpb

//go:generate go build -o ../bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
//go:generate protoc --plugin=protoc-gen-go=../bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative envelope.proto
