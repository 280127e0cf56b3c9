#!/usr/bin/env bash
# Install what scripts/with-secret-service.sh needs to run a real Secret Service (gnome-keyring)
# on a headless Debian/Ubuntu machine: a D-Bus session bus, gnome-keyring-daemon, and
# (optionally, for debugging) secret-tool. Idempotent: apt is skipped when the binaries exist.
#
# Usage: scripts/install-secret-service.sh [--with-tools]
#   --with-tools   also install libsecret-tools (secret-tool), handy for poking at the keyring.
set -euo pipefail

with_tools=0
for arg in "$@"; do
  case "$arg" in
    --with-tools) with_tools=1 ;;
    -h | --help)
      sed -n '2,8p' "$0"
      exit 0
      ;;
    *)
      echo "install-secret-service: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

# binary -> Debian package that ships it
declare -A wanted=(
  [dbus-run-session]=dbus-daemon
  [dbus-daemon]=dbus-daemon
  [dbus-send]=dbus-bin
  [gnome-keyring-daemon]=gnome-keyring
)
if [[ "$with_tools" == 1 ]]; then
  wanted[secret-tool]=libsecret-tools
fi

missing=()
for bin in "${!wanted[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    missing+=("${wanted[$bin]}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-secret-service: all binaries present, nothing to install"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-secret-service: missing packages (${missing[*]}) and apt-get is not available" >&2
  exit 1
fi

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-secret-service: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

# Deduplicate package names (dbus-daemon appears twice).
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
# dbus-user-session provides the session bus that gnome-keyring depends on; naming it explicitly
# keeps apt from choosing dbus-x11 (which drags in X11 libraries).
packages+=(dbus-user-session)

echo "install-secret-service: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"

for bin in "${!wanted[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "install-secret-service: $bin still missing after install" >&2
    exit 1
  fi
done
echo "install-secret-service: done"
