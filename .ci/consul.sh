#!/usr/bin/env bash
# A real Consul agent for bourse's integration tests (cluster/consul).
#
#   .ci/consul.sh ensure   build Consul once into the cache; print its path
#   .ci/consul.sh start    ensure, start a dev agent on loopback, wait for a
#                          leader; print its HTTP address (127.0.0.1:18500)
#   .ci/consul.sh stop     stop the agent that start began and clean up
#
# No download site for Consul is reachable here, but Consul is a Go module:
# ensure builds v1.14.11 from the module proxy as a dependency of a throwaway
# module (see shared/notes/consul-agent.md for why exactly this recipe) and
# caches the binary, so only the first run on a machine pays the ~5 minutes.
# Needs only Go and bash: curl is used when present, bash's /dev/tcp otherwise.
set -euo pipefail

CONSUL_VERSION=1.14.11
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/bourse/consul-v${CONSUL_VERSION}"
CONSUL_BIN="$CACHE_DIR/consul"

HOST=127.0.0.1
HTTP_PORT=18500
# start records its run directory (data, log, PID file) here for stop.
STATE_FILE="${TMPDIR:-/tmp}/bourse-consul-${HTTP_PORT}.rundir"
START_TIMEOUT=60

log() { printf 'consul.sh: %s\n' "$*" >&2; }

# http_get PATH: print the body of GET http://$HOST:$HTTP_PORT$PATH; fail on
# a refused connection or a status other than 200.
http_get() {
  local path=$1
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 2 "http://$HOST:$HTTP_PORT$path" 2>/dev/null
    return
  fi
  (
    exec 3<>"/dev/tcp/$HOST/$HTTP_PORT" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' \
      "$path" "$HOST" "$HTTP_PORT" >&3
    local resp
    if command -v timeout >/dev/null 2>&1; then
      resp=$(timeout 2 cat <&3) || exit 1
    else
      resp=$(cat <&3) || exit 1
    fi
    resp=${resp//$'\r'/}
    case ${resp%%$'\n'*} in
      "HTTP/1."?" 200"*) ;;
      *) exit 1 ;;
    esac
    printf '%s' "${resp#*$'\n\n'}"
  ) 2>/dev/null
}

# has_leader: the agent answers and knows a leader. /v1/status/leader returns
# a JSON string: "" before the election, "127.0.0.1:18300" after.
has_leader() {
  local body
  body=$(http_get /v1/status/leader) || return 1
  [[ $body =~ \"[^\"]+\" ]]
}

cmd_ensure() {
  if [ -x "$CONSUL_BIN" ] && "$CONSUL_BIN" version >/dev/null 2>&1; then
    echo "$CONSUL_BIN"
    return
  fi
  command -v go >/dev/null 2>&1 || { log "go is not installed"; exit 1; }
  log "building Consul v$CONSUL_VERSION into $CACHE_DIR (about 5 minutes on 2 cores)"
  mkdir -p "$CACHE_DIR"
  local work start
  work=$(mktemp -d "${TMPDIR:-/tmp}/bourse-consul-build.XXXXXX")
  # shellcheck disable=SC2064 # expand $work now
  trap "rm -rf '$work'" EXIT
  start=$SECONDS
  # Consul's own go.mod has replace ./api directives, so go install refuses;
  # as a dependency of this module it builds. v1.14.11 is the newest release
  # whose submodules the proxy serves.
  cat >"$work/go.mod" <<GOMOD
module bourse.local/consulbuild

go 1.21

require (
	github.com/hashicorp/consul v$CONSUL_VERSION
	github.com/hashicorp/consul/api v1.18.1
	github.com/hashicorp/consul/proto-public v0.2.1
	github.com/hashicorp/consul/sdk v0.13.0
)

replace launchpad.net/gocheck => github.com/go-check/check v0.0.0-20140225173054-eb6ee6f84d0a
GOMOD
  cat >"$work/tools.go" <<'GOSRC'
//go:build tools

package consulbuild

import _ "github.com/hashicorp/consul"
GOSRC
  # The checksum database answers 404 for one indirect module
  # (envoyproxy/go-control-plane/xdsmatcher): GOSUMDB=off, for this throwaway
  # build only. GOTOOLCHAIN=local: never fetch another Go.
  (
    cd "$work"
    export GOSUMDB=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
    go mod tidy
    go build -o "$CACHE_DIR/consul.tmp.$$" github.com/hashicorp/consul
  ) >&2 || { rm -f "$CACHE_DIR/consul.tmp.$$"; log "build failed"; exit 1; }
  mv -f "$CACHE_DIR/consul.tmp.$$" "$CONSUL_BIN"
  "$CONSUL_BIN" version >/dev/null
  log "built in $((SECONDS - start)) s"
  echo "$CONSUL_BIN"
}

# running_dir: print the run directory of an agent start began that is still
# alive; fail when there is none.
running_dir() {
  [ -f "$STATE_FILE" ] || return 1
  local dir pid
  dir=$(<"$STATE_FILE")
  [ -f "$dir/consul.pid" ] || return 1
  pid=$(<"$dir/consul.pid")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$dir"
}

cmd_start() {
  local bin dir pid deadline
  bin=$(cmd_ensure)
  if dir=$(running_dir) && has_leader; then
    log "agent already running (run dir $dir)"
    echo "$HOST:$HTTP_PORT"
    return
  fi
  if http_get /v1/status/leader >/dev/null; then
    log "something else already answers on $HOST:$HTTP_PORT"
    exit 1
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bourse-consul.XXXXXX")
  mkdir -p "$dir/data"
  echo "$dir" >"$STATE_FILE"
  # Loopback only, every port away from Consul's defaults so a developer's own
  # agent is not disturbed; no DNS or gRPC.
  local args=(agent -dev -bind "$HOST" -client "$HOST"
    -http-port "$HTTP_PORT" -dns-port -1 -grpc-port -1
    -serf-lan-port 18301 -server-port 18300
    -data-dir "$dir/data" -log-level info)
  # setsid: the agent must outlive this script and the shell that ran it.
  local detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  nohup "${detach[@]}" "$bin" "${args[@]}" >"$dir/consul.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/consul.pid"
  deadline=$((SECONDS + START_TIMEOUT))
  until has_leader; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "agent exited; its log:"
      cat "$dir/consul.log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "no leader after ${START_TIMEOUT} s; agent log:"
      cat "$dir/consul.log" >&2
      cmd_stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.2
  done
  log "agent up (pid $pid, run dir $dir)"
  echo "$HOST:$HTTP_PORT"
}

cmd_stop() {
  [ -f "$STATE_FILE" ] || { log "no agent started"; return 0; }
  local dir pid i
  dir=$(<"$STATE_FILE")
  if [ -f "$dir/consul.pid" ]; then
    pid=$(<"$dir/consul.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do # up to 10 s, then KILL
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        log "agent $pid ignored TERM; killing"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
      fi
    fi
  fi
  case $dir in
    "${TMPDIR:-/tmp}"/bourse-consul.*) rm -rf "$dir" ;;
  esac
  rm -f "$STATE_FILE"
  log "agent stopped"
}

case ${1:-} in
  ensure) cmd_ensure ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 ensure|start|stop" >&2; exit 2 ;;
esac
