// Package boursepb holds bourse's wire messages, generated from bourse.proto
// with google.golang.org/protobuf. It imports no other bourse package.
//
// To regenerate (protoc from Debian's protobuf-compiler; the plugin version is
// pinned to the module's google.golang.org/protobuf):
//
//	go generate ./proto
package boursepb

//go:generate go build -o ../bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
//go:generate protoc --plugin=protoc-gen-go=../bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative bourse.proto deploy.proto
