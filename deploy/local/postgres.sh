#!/usr/bin/env bash
# Private PostgreSQL + TimescaleDB cluster on 127.0.0.1:$PG_PORT for development, tests and CI.
#
#   deploy/local/postgres.sh up      start (or reuse) the cluster; prints its URL on stdout
#   deploy/local/postgres.sh down    stop it (no error when it is not running)
#   deploy/local/postgres.sh status  one line: running + URL, or stopped (always exits 0)
#
# The machine may run its own PostgreSQL (Debian's "main" cluster on 5432). We never touch it:
# we only borrow the installed server binaries and run them against our own data directory,
# port and socket directory under $STACK_DIR/pg.
#
# TimescaleDB: Debian 12 has no package for it, so unless apt offers postgresql-<major>-timescaledb
# we build Debian's own source package (from trixie, Apache-2 edition) once and keep the source
# and the build in $CACHE_DIR, outside the clone, so later runs and fresh clones never rebuild.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR="$STACK_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
PG_DATABASES=(goalpost goalpost_test)
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/goalpost"

TS_EXPECTED_VERSION=2.19.3
# The Debian suite whose source package we build; trixie carries 2.19.3+dfsg (tsl/ code stripped).
TS_SOURCE_SUITE="${GOALPOST_TIMESCALEDB_SUITE:-trixie}"
TS_APT_DIR="$CACHE_DIR/apt"
TS_SRC_DIR="$CACHE_DIR/timescaledb-src"
TS_BUILD_LOG="$CACHE_DIR/timescaledb-build.log"

# Keep psql quiet: CREATE EXTENSION timescaledb prints a large welcome banner as a NOTICE.
export PGOPTIONS="-c client_min_messages=warning"
export PGCONNECT_TIMEOUT=5

# ---------------------------------------------------------------------------------------------
# Small helpers

now_ms() { local t="${EPOCHREALTIME//[.,]/}"; echo $((t / 1000)); }
since() { local ms=$(($(now_ms) - $1)); printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }

# timed DESCRIPTION CMD...: runs one step of the setup and logs how long it took.
timed() {
  local what="$1" t0
  shift
  t0=$(now_ms)
  log "$what ..."
  "$@"
  log "$what: done in $(since "$t0")"
}

# quiet CMD...: hides the command's chatter unless it fails.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    die "command failed: $*"
  fi
}

# build_step CMD...: like quiet, but keeps the (long) output in $TS_BUILD_LOG for later reading.
build_step() {
  printf '\n### %s: %s\n' "$(date '+%F %T')" "$*" >>"$TS_BUILD_LOG"
  if ! "$@" >>"$TS_BUILD_LOG" 2>&1; then
    tail -n 40 "$TS_BUILD_LOG" >&2
    die "command failed: $* (full log: $TS_BUILD_LOG)"
  fi
}

# initdb refuses to run as root, and the data directory must belong to the server's user.
# cd / because postgres may not be allowed into the caller's working directory (e.g. /root).
# 9>&- closes our lock (see take_lock): the postmaster would otherwise inherit it and hold it forever.
as_postgres() {
  if [ "$(id -un)" = postgres ]; then
    (cd / && "$@") 9>&-
  elif [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@") 9>&-
  else
    (cd / && sudo -u postgres -- "$@") 9>&-
  fi
}

# Server majors that are actually installed. /usr/bin/pg_config is not trustworthy for this: it can
# come from libpq-dev and report a client-only version.
installed_majors() {
  local bin
  for bin in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$bin" ] && basename "$(dirname "$(dirname "$bin")")"
  done | sort -n
}

pg_bin() { echo "/usr/lib/postgresql/$PG_MAJOR/bin/$1"; }

# The major to run: an existing cluster is tied to the major that created it (a later install of a
# newer PostgreSQL must not make us start old data with new binaries); otherwise the newest one.
detect_major() {
  local v
  if [ -d "$PG_DATA" ] && v=$(as_postgres cat "$PG_DATA/PG_VERSION" 2>/dev/null); then
    [ -x "/usr/lib/postgresql/$v/bin/postgres" ] ||
      die "$PG_DATA was created by PostgreSQL $v, which is no longer installed (apt-get install postgresql-$v, or remove $PG_DIR)"
    echo "$v"
  else
    installed_majors | tail -n 1
  fi
}

# Any psql will do for talking to the server; the newest installed one, else whatever is on PATH.
find_psql() {
  local major
  major=$(installed_majors | tail -n 1)
  if [ -n "$major" ]; then
    echo "/usr/lib/postgresql/$major/bin/psql"
  else
    command -v psql || true
  fi
}

psql_at() { # psql_at DB ARGS...: psql as the postgres superuser over TCP (trust auth on loopback)
  local db="$1"
  shift
  "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"
}

# True when the server answering on our port is OUR cluster (same data directory), so that a
# foreign server that happens to use the port is never mistaken for ours, nor reused.
our_server_running() {
  [ -n "$PSQL" ] || return 1
  local dir
  dir=$(psql_at postgres -c "SHOW data_directory" 2>/dev/null) || return 1
  [ "$(realpath -m "$dir")" = "$(realpath -m "$PG_DATA")" ]
}

# True when some other Goalpost stack (e.g. another checkout on this machine) already serves
# our port with TimescaleDB preloaded: reusing it is what `up` promises; stopping it is not ours.
compatible_server_running() {
  [ -n "$PSQL" ] || return 1
  psql_at postgres -c "SHOW shared_preload_libraries" 2>/dev/null | grep -q timescaledb
}

timescaledb_version_in() { psql_at "$1" -c "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# TimescaleDB installation

timescaledb_installed() {
  local pgc
  pgc=$(pg_bin pg_config)
  [ -f "$("$pgc" --sharedir)/extension/timescaledb.control" ] && [ -f "$("$pgc" --pkglibdir)/timescaledb.so" ]
}

timescaledb_control_version() {
  sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$("$(pg_bin pg_config)" --sharedir)/extension/timescaledb.control"
}

# The Debian mirror this machine already uses (one-line .list or deb822 .sources), so the source
# download goes through the same host/proxy as the rest of apt.
debian_mirror() {
  local uri
  uri=$(
    {
      grep -hsE '^[[:space:]]*deb(-src)?[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        sed -E 's/^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}'
      grep -hsiE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources |
        sed -E 's/^[[:space:]]*[Uu][Rr][Ii][Ss]:[[:space:]]*//' | tr -s ' \t' '\n\n'
    } | grep -E '^[a-z+]+://.*/debian/?$' | head -n 1
  )
  echo "${uri:-http://deb.debian.org/debian}"
}

# apt with a private sources list, index and cache: fetching a source package from another suite
# must not change what the machine's own apt sees (no trixie binaries leaking into upgrades).
private_apt() {
  local opts=(
    -o "Dir::Etc::sourcelist=$TS_APT_DIR/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$TS_APT_DIR/lists"
    -o "Dir::Cache=$TS_APT_DIR/cache"
  )
  # As root apt would drop to the _apt user, which cannot write into /root/.cache.
  [ "$(id -u)" -eq 0 ] && opts+=(-o "APT::Sandbox::User=root")
  apt-get -q "${opts[@]}" "$@"
}

# Newest unpacked source tree in the cache (only complete downloads are moved there).
timescaledb_source_dir() {
  local dir
  dir=$(find "$TS_SRC_DIR" -mindepth 2 -maxdepth 2 -name bootstrap -path '*/timescaledb-*/bootstrap' \
    -printf '%h\n' 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

fetch_timescaledb_source() {
  local mirror keyring="" tmp
  mirror=$(debian_mirror)
  # Without this a fresh machine could not verify the suite's Release file when trusted.gpg.d is empty.
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
  mkdir -p "$TS_APT_DIR/lists/partial" "$TS_APT_DIR/cache/archives/partial" "$TS_SRC_DIR"
  echo "deb-src $keyring$mirror $TS_SOURCE_SUITE main" >"$TS_APT_DIR/sources.list"
  log "using $mirror ($TS_SOURCE_SUITE) for the timescaledb source package"
  build_step private_apt update
  # Unpack next to the cache and move in only on success, so an interrupted download is retried.
  tmp="$TS_SRC_DIR/.download.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  (cd "$tmp" && build_step private_apt source timescaledb)
  find "$tmp" -mindepth 1 -maxdepth 1 -exec mv -f -t "$TS_SRC_DIR" {} +
  rmdir "$tmp"
}

build_timescaledb() {
  local src build pgc
  pgc=$(pg_bin pg_config)
  # dpkg-dev provides dpkg-source, which `apt-get source` uses to unpack and patch.
  timed "install build dependencies" apt_install dpkg-dev "postgresql-server-dev-$PG_MAJOR" cmake gcc make libssl-dev libkrb5-dev

  if ! src=$(timescaledb_source_dir); then
    timed "download timescaledb source (Debian $TS_SOURCE_SUITE)" fetch_timescaledb_source
    src=$(timescaledb_source_dir) || die "no timescaledb source tree in $TS_SRC_DIR after download (see $TS_BUILD_LOG)"
  fi
  log "timescaledb source: $src"
  case "$src" in
    *"-$TS_EXPECTED_VERSION"[+~-]* | *"-$TS_EXPECTED_VERSION") ;;
    *) log "WARNING: expected timescaledb $TS_EXPECTED_VERSION, the source is $(basename "$src")" ;;
  esac

  # One build directory per major: the same source tree can serve several PostgreSQL versions.
  build="$src/build-pg$PG_MAJOR"
  if [ ! -f "$build/Makefile" ]; then
    rm -rf "$build" # a half-configured dir would make bootstrap stop and ask questions
    # Flags as in Debian's own package (debian/rules); the tests need a source tree we don't have.
    timed "configure timescaledb" build_step env -C "$src" BUILD_DIR="$build" ./bootstrap \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPACHE_ONLY=1 -DSEND_TELEMETRY_DEFAULT=OFF \
      -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DPG_CONFIG="$pgc"
  else
    log "reusing cached timescaledb build in $build"
  fi
  # make is incremental, so with a complete cached build this is a no-op followed by the install.
  timed "compile timescaledb" build_step make -C "$build" -j"$(nproc)"
  timed "install timescaledb into $("$pgc" --pkglibdir)" build_step as_root make -C "$build" install
}

ensure_timescaledb() {
  if timescaledb_installed; then
    log "timescaledb $(timescaledb_control_version) is installed for PostgreSQL $PG_MAJOR"
    return
  fi
  local pkg="postgresql-$PG_MAJOR-timescaledb" candidate
  candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
    timed "install $pkg $candidate from apt" apt_install "$pkg"
  else
    log "apt has no $pkg; building Debian's timescaledb source package (cached in $CACHE_DIR)"
    build_timescaledb
  fi
  timescaledb_installed || die "timescaledb is still not installed for PostgreSQL $PG_MAJOR"
  log "timescaledb $(timescaledb_control_version) is installed for PostgreSQL $PG_MAJOR"
}

# ---------------------------------------------------------------------------------------------
# Cluster

prepare_dirs() {
  mkdir -p "$PG_DIR"
  # Owned by postgres because the server (not us) creates files in them; 700 is required by initdb.
  [ -d "$PG_DATA" ] || as_root install -d -o postgres -g postgres -m 700 "$PG_DATA"
  [ -d "$PG_RUN" ] || as_root install -d -o postgres -g postgres -m 755 "$PG_RUN"
  # pg_ctl -l opens the log as postgres, which cannot create files in our (root/user-owned) dir.
  [ -e "$PG_LOG" ] || as_root install -o postgres -g postgres -m 644 /dev/null "$PG_LOG"
  as_postgres test -w "$PG_DATA" ||
    die "the postgres user cannot reach $PG_DATA (is a parent directory not world-executable?); set GOALPOST_STACK_DIR elsewhere"
}

init_cluster() {
  as_postgres test -f "$PG_DATA/PG_VERSION" && return 0
  local locale_opts=(--locale=C.UTF-8)
  locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || locale_opts=(--no-locale)
  # trust on loopback only: this is a throwaway dev/test cluster that listens on 127.0.0.1 alone.
  timed "initdb $PG_DATA (PostgreSQL $PG_MAJOR)" quiet as_postgres "$(pg_bin initdb)" -D "$PG_DATA" \
    --auth=trust --username=postgres --encoding=UTF8 "${locale_opts[@]}"
}

# Our settings live in their own file, rewritten on every `up` (so a changed port, a moved
# checkout or a changed setting takes effect: a running server of ours is restarted when the
# file changed), and included last from postgresql.conf so they win. Why each setting: see
# deploy/README.md ("PostgreSQL settings").
config_text() {
  cat <<EOF
# Written by deploy/local/postgres.sh: change the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
# Memory: the hot chunks' indexes stay cached (see deploy/README.md).
shared_buffers = 4GB
effective_cache_size = 12GB
maintenance_work_mem = 512MB
# WAL: fewer checkpoints (fewer full-page images) and compressed full-page images.
wal_buffers = 64MB
max_wal_size = 8GB
min_wal_size = 1GB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
wal_compression = lz4
# The processor commits with synchronous_commit off and commits Kafka offsets once the WAL is
# flushed: the WAL writer's pace is how soon that is.
wal_writer_delay = 10ms
# SSD / cached data.
random_page_cost = 1.1
effective_io_concurrency = 200
# Durability stays on: the tests check that acknowledged writes survive a crash.
fsync = on
synchronous_commit = on
full_page_writes = on
# Log to stderr, which pg_ctl -l sends to $PG_LOG.
logging_collector = off
EOF
}

write_config() {
  config_text | as_postgres tee "$PG_DATA/goalpost.conf" >/dev/null
  as_postgres grep -qxF "include 'goalpost.conf'" "$PG_DATA/postgresql.conf" ||
    echo "include 'goalpost.conf'" | as_postgres tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# A running server of ours whose settings file differs from today's script gets today's file
# and a restart (fast shutdown: clients reconnect; nothing acknowledged is lost).
refresh_config() {
  if ! config_text | as_postgres cmp -s - "$PG_DATA/goalpost.conf"; then
    write_config
    timed "restarting postgres with the new settings" quiet as_postgres "$(pg_bin pg_ctl)" \
      restart -D "$PG_DATA" -l "$PG_LOG" -m fast -w -t 120
  fi
}

# postmaster.pid survives a reboot or kill -9. pg_ctl copes when its PID is dead, but after a
# reboot the PID may belong to an unrelated process and the server would then refuse to start.
# A PID is only really ours if it is a postgres process working in our data directory.
clear_stale_pidfile() {
  local pid
  pid=$(as_postgres head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] &&
    [ "$(as_postgres readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(realpath -m "$PG_DATA")" ]; then
    return 0
  fi
  log "removing stale postmaster.pid (pid ${pid:-?} is no longer our server)"
  as_postgres rm -f "$PG_DATA/postmaster.pid" "$PG_RUN/.s.PGSQL.$PG_PORT.lock"
}

start_cluster() {
  clear_stale_pidfile
  if as_postgres "$(pg_bin pg_ctl)" status -D "$PG_DATA" >/dev/null 2>&1; then
    # Our postmaster exists but does not answer yet: starting up or recovering after a crash.
    log "our postgres is already running (pid $(as_postgres head -n 1 "$PG_DATA/postmaster.pid")), waiting for it"
  else
    port_open "$PG_PORT" && die "port $PG_PORT is used by another server; stop it or set GOALPOST_PG_PORT"
    local t0
    t0=$(now_ms)
    log "starting postgres on 127.0.0.1:$PG_PORT (log: $PG_LOG) ..."
    if ! as_postgres "$(pg_bin pg_ctl)" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 >/dev/null; then
      tail -n 30 "$PG_LOG" >&2
      die "postgres did not start (full log: $PG_LOG)"
    fi
    log "postgres started in $(since "$t0")"
  fi
  # -U/-d: without them pg_isready logs in as the OS user and fills the log with 'role "root" does not exist'.
  wait_until 60 "postgres on 127.0.0.1:$PG_PORT" "$(pg_bin pg_isready)" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres ||
    { tail -n 30 "$PG_LOG" >&2; die "postgres is not accepting connections (full log: $PG_LOG)"; }
}

ensure_databases() {
  local db
  for db in "${PG_DATABASES[@]}"; do
    # CREATE DATABASE cannot run inside a DO block, hence \gexec.
    psql_at postgres <<<"SELECT format('CREATE DATABASE %I', '$db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \\gexec"
    psql_at "$db" -c "CREATE EXTENSION IF NOT EXISTS timescaledb"
  done
}

# A real hypertable round trip, so a broken or mismatched extension fails here and not in a test.
# Hypertables cannot be temporary or unlogged, so it is a plain table in a rolled-back transaction.
smoke_test() {
  local version license
  psql_at goalpost_test >/dev/null <<'SQL'
BEGIN;
CREATE TABLE goalpost_smoke (ts timestamptz NOT NULL, value int NOT NULL);
SELECT create_hypertable('goalpost_smoke', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO goalpost_smoke SELECT t, 1 FROM generate_series(now() - interval '3 days', now(), interval '1 minute') t;
SELECT time_bucket('1 hour', ts) AS bucket, sum(value) FROM goalpost_smoke GROUP BY bucket ORDER BY bucket;
ROLLBACK;
SQL
  version=$(timescaledb_version_in goalpost)
  license=$(psql_at goalpost -c "SHOW timescaledb.license")
  log "hypertable smoke test passed: timescaledb $version, license $license"
  [ "$version" = "$TS_EXPECTED_VERSION" ] || log "WARNING: expected timescaledb $TS_EXPECTED_VERSION, got $version"
  [ "$license" = apache ] || log "WARNING: expected the apache license, got $license"
}

# ---------------------------------------------------------------------------------------------
# Commands

# Serialises concurrent up/down calls (e.g. several test runners starting the stack at once).
take_lock() {
  mkdir -p "$PG_DIR"
  exec 9>"$PG_DIR/.lock"
  flock -w 600 9 || die "another postgres.sh is still running (lock: $PG_DIR/.lock)"
}

cmd_up() {
  local t0
  t0=$(now_ms)
  take_lock
  PSQL=$(find_psql)
  if our_server_running; then
    PG_MAJOR=$(detect_major)
    refresh_config
    ensure_databases
    log "postgres already running on 127.0.0.1:$PG_PORT, reused ($(since "$t0"))"
    echo "$PG_URL"
    return
  fi
  if compatible_server_running; then
    ensure_databases
    log "a PostgreSQL with TimescaleDB from another checkout serves 127.0.0.1:$PG_PORT: reused"
    echo "$PG_URL"
    return
  fi

  if [ -z "$(installed_majors)" ]; then
    timed "install PostgreSQL" apt_install postgresql
  fi
  PG_MAJOR=$(detect_major)
  [ -n "$PG_MAJOR" ] || die "no PostgreSQL server found in /usr/lib/postgresql"
  PSQL=$(pg_bin psql)
  log "using PostgreSQL $PG_MAJOR (/usr/lib/postgresql/$PG_MAJOR/bin)"

  ensure_timescaledb
  prepare_dirs
  init_cluster
  write_config
  start_cluster
  timed "create databases ${PG_DATABASES[*]}" ensure_databases
  smoke_test
  log "postgres ready in $(since "$t0")"
  echo "$PG_URL"
}

cmd_down() {
  take_lock
  if [ ! -d "$PG_DATA" ] || [ -z "$(installed_majors)" ]; then
    log "postgres is not set up in $PG_DATA; nothing to stop"
    return
  fi
  PG_MAJOR=$(detect_major)
  clear_stale_pidfile # pg_ctl stop would otherwise signal whatever process now has that PID
  if as_postgres "$(pg_bin pg_ctl)" status -D "$PG_DATA" >/dev/null 2>&1; then
    # GOALPOST_PG_STOP_MODE=immediate: a crash without a checkpoint (the tests use it to prove
    # that nothing acknowledged is lost); fast is the normal clean shutdown.
    timed "stopping postgres (${GOALPOST_PG_STOP_MODE:-fast})" quiet as_postgres "$(pg_bin pg_ctl)" \
      stop -D "$PG_DATA" -m "${GOALPOST_PG_STOP_MODE:-fast}" -w -t 60
  else
    log "postgres is not running"
  fi
}

cmd_status() {
  PSQL=$(find_psql)
  if our_server_running; then
    printf 'postgres  running  %s (timescaledb %s)\n' "$PG_URL" "$(timescaledb_version_in goalpost || echo '?')"
  elif compatible_server_running; then
    printf 'postgres  running  %s (another checkout'"'"'s cluster)\n' "$PG_URL"
  else
    echo "postgres  stopped"
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
