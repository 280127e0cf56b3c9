#!/usr/bin/env bash
# Run a command against a real, throwaway Secret Service (gnome-keyring) on a private D-Bus
# session bus, e.g. for the OS-keyring tests:
#
#   scripts/with-secret-service.sh env HYPERFRAMES_TEST_KEYRING=1 cargo test auth::keyring
#
# What it does:
#   1. starts a private session bus with dbus-run-session (DBUS_SESSION_BUS_ADDRESS points at it);
#   2. starts gnome-keyring-daemon (secrets component only) with a throwaway keyring directory
#      (XDG_DATA_HOME / XDG_RUNTIME_DIR under a fresh temp dir), feeding a test password on stdin
#      with --unlock, which creates the "login" collection unlocked and makes it the default
#      alias, so writes never prompt;
#   3. exports whatever NAME=VALUE lines the daemon prints;
#   4. waits (bounded) until org.freedesktop.secrets is owned on the bus and the default
#      collection reports Locked=false;
#   5. execs the command. Afterwards the bus, the daemon and the temp dir are removed.
# Nothing outside the temp dir is touched: your real keyring, HOME and session bus are not used.
#
# Needs: dbus-run-session, dbus-send, gnome-keyring-daemon (scripts/install-secret-service.sh).
set -euo pipefail

readonly inner_flag=_HYPERFRAMES_SECRET_SERVICE_INNER
readonly test_password=hyperframes-throwaway-test-keyring
readonly wait_tries=100 # x 0.1 s

log() { echo "with-secret-service: $*" >&2; }

bus_call() {
  # bus_call DEST PATH METHOD [ARGS...]; prints the reply, fails on a D-Bus error.
  local dest=$1 path=$2 method=$3
  shift 3
  dbus-send --session --print-reply --reply-timeout=2000 --dest="$dest" "$path" "$method" "$@"
}

outer() {
  if [[ $# -eq 0 ]]; then
    log "usage: $0 COMMAND [ARGS...]"
    exit 2
  fi
  local bin
  for bin in dbus-run-session dbus-send gnome-keyring-daemon; do
    if ! command -v "$bin" >/dev/null 2>&1; then
      log "$bin not found; run scripts/install-secret-service.sh first"
      exit 127
    fi
  done

  local workdir
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/hf-secret-service.XXXXXX")
  mkdir -m 700 "$workdir/data" "$workdir/run"
  # shellcheck disable=SC2317 # invoked by the trap
  cleanup() {
    local pid
    if [[ -s "$workdir/daemon.pid" ]]; then
      pid=$(<"$workdir/daemon.pid")
      # The daemon normally exits on its own once the bus is gone; make sure of it.
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
      fi
    fi
    rm -rf "$workdir"
  }
  trap cleanup EXIT

  local status=0
  env "$inner_flag=$workdir" dbus-run-session -- bash "${BASH_SOURCE[0]}" "$@" || status=$?
  exit "$status"
}

inner() {
  local workdir=${!inner_flag}
  unset "$inner_flag"

  # Start the daemon on this private bus with a throwaway keyring dir. --unlock reads the
  # password from stdin and creates/unlocks the "login" keyring; --daemonize returns once forked.
  local out
  if ! out=$(printf '%s' "$test_password" |
    env XDG_DATA_HOME="$workdir/data" XDG_RUNTIME_DIR="$workdir/run" \
      gnome-keyring-daemon --daemonize --unlock --components=secrets 2>"$workdir/daemon.log"); then
    log "gnome-keyring-daemon failed to start:"
    cat "$workdir/daemon.log" >&2
    exit 1
  fi

  # Export what the daemon prints (NAME=VALUE lines; gnome-keyring 42 prints none for secrets only).
  local line
  while IFS= read -r line; do
    if [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
      export "${line?}"
    fi
  done <<<"$out"
  if [[ -z "${GNOME_KEYRING_CONTROL:-}" && -S "$workdir/run/keyring/control" ]]; then
    export GNOME_KEYRING_CONTROL="$workdir/run/keyring"
  fi

  # Wait for the daemon to own org.freedesktop.secrets. Ask the bus, not the service: calling the
  # service before it owns its name would make dbus activate a second, locked daemon.
  local i reply pid=""
  for ((i = 0; i < wait_tries; i++)); do
    if reply=$(bus_call org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null); then
      pid=$(awk '/uint32/ { print $2 }' <<<"$reply")
      break
    fi
    sleep 0.1
  done
  if [[ -z "$pid" ]]; then
    log "org.freedesktop.secrets did not appear on the bus after $((wait_tries / 10)) s"
    cat "$workdir/daemon.log" >&2
    exit 1
  fi
  echo "$pid" >"$workdir/daemon.pid"

  # The default alias must resolve to an unlocked collection, or writes would prompt.
  local locked=""
  for ((i = 0; i < wait_tries; i++)); do
    if reply=$(bus_call org.freedesktop.secrets /org/freedesktop/secrets/aliases/default \
      org.freedesktop.DBus.Properties.Get \
      string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null); then
      locked=$(awk '/boolean/ { print $NF }' <<<"$reply")
      [[ "$locked" == false ]] && break
    fi
    sleep 0.1
  done
  if [[ "$locked" != false ]]; then
    log "the default Secret Service collection is missing or locked (Locked=${locked:-unknown})"
    cat "$workdir/daemon.log" >&2
    exit 1
  fi

  log "Secret Service ready (gnome-keyring pid $pid, bus ${DBUS_SESSION_BUS_ADDRESS:-?})"
  exec "$@"
}

if [[ -n "${!inner_flag:-}" ]]; then
  inner "$@"
else
  outer "$@"
fi
