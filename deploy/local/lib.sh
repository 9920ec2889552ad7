# Shared helpers for the local stack scripts (sourced, not executed).
# Everything here must work as root on a fresh Debian 12/13 machine with only apt, Java and Maven.
set -euo pipefail

GOALPOST_ROOT="${GOALPOST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# Runtime state (data, logs, pid files) lives in the clone, ignored by git.
STACK_DIR="${GOALPOST_STACK_DIR:-$GOALPOST_ROOT/.stack}"
# Builds and downloads live outside the clone so a fresh clone on the same machine reuses them.
CACHE_DIR="${GOALPOST_CACHE_DIR:-$HOME/.cache/goalpost}"

# Ports stay below Linux's ephemeral range (32768-60999): a server port inside it can be taken
# by some outgoing connection's local port, and the server then fails to bind.
PG_PORT="${GOALPOST_PG_PORT:-25432}"
REDIS_PORT="${GOALPOST_REDIS_PORT:-26379}"
KAFKA_PORT="${GOALPOST_KAFKA_PORT:-29092}"
KAFKA_CONTROLLER_PORT="${GOALPOST_KAFKA_CONTROLLER_PORT:-29093}"

mkdir -p "$STACK_DIR" "$CACHE_DIR"

log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly when we are root, else through sudo).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

_APT_UPDATED_MARK="$STACK_DIR/.apt-updated"
# apt_install PKG...: installs missing Debian packages; runs `apt-get update` at most once per hour.
# Serialized with flock: stack.sh sets up PostgreSQL and Kafka side by side.
apt_install() {
  (
    flock -w 900 8 || die "could not get the apt lock"
    _apt_install_locked "$@"
  ) 8>"$CACHE_DIR/.apt.lock"
}

_apt_install_locked() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ ! -f "$_APT_UPDATED_MARK" ] || [ -n "$(find "$_APT_UPDATED_MARK" -mmin +60 2>/dev/null)" ]; then
    log "apt-get update"
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    touch "$_APT_UPDATED_MARK"
  fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds or time runs out.
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# pid_alive PIDFILE: true when the pid file names a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
