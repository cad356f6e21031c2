package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcWindow fixes gRPC's flow-control windows, which turns off its
// bandwidth-delay estimation: with it on, every small message made the
// receiver write a WINDOW_UPDATE and a PING and the sender a PING ACK
// (strace: 4.7 writes per request-response cycle instead of 2), which cost
// more than the messages themselves. 1 MiB per stream, 4 MiB per connection.
const grpcWindow = 1 << 20

// remoteOptions configures remote's gRPC: plaintext, or TLS with tlsCfg as
// both server and client (gRPC sets the client's ServerName from the
// address it dials).
func remoteOptions(tlsCfg *tls.Config) []remote.ConfigOption {
	client := insecure.NewCredentials()
	server := []grpc.ServerOption{grpc.InitialWindowSize(grpcWindow), grpc.InitialConnWindowSize(4 * grpcWindow)}
	if tlsCfg != nil {
		client = credentials.NewTLS(tlsCfg.Clone())
		server = append(server, grpc.Creds(credentials.NewTLS(tlsCfg.Clone())))
	}
	return []remote.ConfigOption{
		remote.WithDialOptions(grpc.WithTransportCredentials(client),
			grpc.WithInitialWindowSize(grpcWindow), grpc.WithInitialConnWindowSize(4*grpcWindow),
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: remoteConnectTimeout})),
		remote.WithServerOptions(server...),
		remote.WithEndpointWriterQueueSize(endpointWriterQueue),
	}
}

// remoteConnectTimeout bounds one attempt of remote's endpoint writer to
// connect to a peer (TCP, TLS, HTTP/2 settings). gRPC's default, 20 s, is
// what a writer waits when the peer's kernel accepts and its process does
// not answer (frozen by SIGSTOP, a GC or VM pause, or packets dropped):
// every message to that peer, heartbeats included, queues behind it
// (TestJoinPastSilentPeer; likely what a chaos run in CI hit when it saw a
// node 20 s late). Loopback and a LAN connect in
// milliseconds; after a failed attempt remote sleeps 2 s and drops the
// writer, and the next message starts a new one.
const remoteConnectTimeout = time.Second

// endpointWriterQueue is the initial size of the mailbox of each of
// remote's endpoint writers (one per peer). remote's default, 1,000,000,
// allocates a ring of a million interface values, 16 MB, per peer at its
// first message: 61 of a chaos node's 69 MB of live heap with 4 peers. The
// ring grows by doubling when it fills, so a small start bounds nothing;
// and a process's memory is what the kernel frees before it closes a
// killed process's sockets (0.1 ms per MB here), which is what its peers
// wait for to see it dead.
const endpointWriterQueue = 1024

// remoteMaxRetries bounds how long one of remote's endpoint writers blocks
// when it cannot connect: it sleeps 2 s after every failed attempt
// (remote/endpoint_writer.go:44-50 of
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9, the version go.mod
// pins) and then publishes EndpointTerminatedEvent.
// The default of 5 blocks it for 10 s; one attempt blocks it for 2 s.
const remoteMaxRetries = 1

// gracefulRemoteStop bounds remote's graceful shutdown before it is forced.
// Graceful shutdown sends DisconnectRequest to the peers writing to this node
// and then waits, in grpc's GracefulStop, until they close those streams;
// live peers do so in milliseconds. remote's own bound is 10 s
// (remote/server.go:106 of
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9).
const gracefulRemoteStop = time.Second

// startRemote starts protoactor remote on host:port and returns the address
// it listens on (the real port when port is 0). remote.Start panics when it
// cannot listen (remote/server.go:62-65 of
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9); the panic comes back
// as an error.
func startRemote(sys *actor.ActorSystem, host string, port int, tlsCfg *tls.Config) (r *remote.Remote, addr string, err error) {
	cfg := remote.Configure(host, port, remoteOptions(tlsCfg)...)
	cfg.MaxRetryCount = remoteMaxRetries
	r = remote.NewRemote(sys, cfg)
	defer func() {
		if p := recover(); p != nil {
			r, addr, err = nil, "", fmt.Errorf("bourse: cluster: start remote on %s: %v", joinHostPort(host, port), p)
		}
	}()
	r.Start()
	return r, sys.Address(), nil
}

// stopRemote shuts remote down gracefully within gracefulRemoteStop (or ctx),
// then forcibly. The graceful path stops remote's endpoint actors, which
// closes the gRPC client connections to the peers; the forced path alone
// (Shutdown(false)) would leave them open (remote/server.go:110-113; file
// and line numbers here are of
// protoactor-go v0.0.0-20240822202345-3c0e61ca19c9, the version go.mod
// pins).
//
// Graceful shutdown can panic with "send on closed channel" when a peer closes
// its stream to this node at the same moment (remote/endpoint_manager.go:116-122
// sends on a channel that remote/endpoint_reader.go:41-44 closes); the panic
// is recovered and the shutdown forced.
func stopRemote(ctx context.Context, r *remote.Remote, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				log.Warn("remote graceful shutdown panicked; forcing it", slog.Any("panic", p))
				r.Shutdown(false)
			}
		}()
		r.Shutdown(true)
	}()
	t := time.NewTimer(gracefulRemoteStop)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	log.Warn("remote graceful shutdown is slow; forcing it")
	// Server.Stop makes a concurrent GracefulStop return.
	r.Shutdown(false)
	<-done
}
