#!/usr/bin/env bash
# deploy/local/kafka.sh up|down|status
#
# A private single-node Apache Kafka broker (KRaft, broker+controller in one JVM) on loopback,
# for development, tests and CI. No root needed, no Docker: the official Kafka jars come from
# Maven Central (resolved by deploy/local/kafka/pom.xml into $CACHE_DIR/kafka-<version>/lib, once
# per machine) and run on the machine's Java 17+.
#
#   up      start the broker (or reuse ours if it is already running); prints the bootstrap address
#   down    controlled shutdown (SIGTERM, up to 30 s, then SIGKILL); fine if not running
#   status  one line: "kafka     running  127.0.0.1:29092 (Kafka X)" or "kafka     stopped"
#
# Environment (besides lib.sh's GOALPOST_STACK_DIR, GOALPOST_CACHE_DIR, GOALPOST_KAFKA_PORT,
# GOALPOST_KAFKA_CONTROLLER_PORT):
#   GOALPOST_KAFKA_VERSION        Kafka version (default below: the newest one kafkajs 2.2.4 was proven against)
#   GOALPOST_KAFKA_HEAP           JVM heap options (default "-Xms256m -Xmx512m")
#   GOALPOST_KAFKA_START_TIMEOUT  seconds to wait for the broker to be ready (default 60)
#
# State lives in $STACK_DIR/kafka: server.properties, log4j2.properties, data/ (log.dirs, KRaft
# metadata), logs/server.log (broker log), kafka.log (JVM stdout/stderr), kafka.pid, kafka.version.
# shellcheck source=deploy/local/lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The newest Kafka proven against kafkajs 2.2.4 (admin createTopics/fetchTopicMetadata/fetchOffsets,
# acks=-1 produce, two-member classic group join + rebalance, eachBatch with manual resolveOffset and
# commits, member leave -> rebalance). 3.9.1, 4.0.0, 4.1.1, 4.2.0 and 4.3.0 passed the same proof.
KAFKA_VERSION="${GOALPOST_KAFKA_VERSION:-4.4.0}"
KAFKA_HEAP="${GOALPOST_KAFKA_HEAP:--Xms256m -Xmx512m}"
KAFKA_START_TIMEOUT="${GOALPOST_KAFKA_START_TIMEOUT:-60}"

KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"
KAFKA_DIR="$STACK_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOGS="$KAFKA_DIR/logs"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_VERSION_FILE="$KAFKA_DIR/kafka.version"
KAFKA_OUT="$KAFKA_DIR/kafka.log"
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

mkdir -p "$KAFKA_DIR"

# ---------------------------------------------------------------------------------------------
# Process checks

# cmdline PID: the process's command line (empty for a dead process or a zombie).
cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

# ours: true when the pid file names a live broker started from this stack dir (not a recycled pid).
ours() {
  pid_alive "$KAFKA_PID" || return 1
  local c
  c="$(cmdline "$(cat "$KAFKA_PID")")"
  [[ $c == *kafka.Kafka* && $c == *"$KAFKA_PROPS"* ]]
}

# kafka_rpc PORT NBYTES REQUEST: sends one raw Kafka request (printf escapes, size prefix
# included) to 127.0.0.1:PORT and prints the first NBYTES of the reply as hex.
kafka_rpc() {
  # shellcheck disable=SC2016 # the inner script gets its arguments as $1..$3
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "$3" >&3
    head -c "$2" <&3 | od -An -v -tx1 | tr -d " \n"
  ' _ "$@" 2>/dev/null
}
# All requests carry correlation id "GPST" (47505354) and client id "gpst".
KAFKA_GROUP_PROBE="goalpost-warmup" # 15 bytes: the \x0f length prefixes below

# kafka_answers PORT: an ApiVersions v0 request is answered with our correlation id, i.e. a Kafka
# broker serves requests there (an open port alone is not enough).
kafka_answers() {
  local r
  r="$(kafka_rpc "$1" 8 '\x00\x00\x00\x0e\x00\x12\x00\x00GPST\x00\x04gpst')" || return 1
  [ "${r:8:8}" = 47505354 ]
}

# group_coordinator_error: Kafka error code (decimal) of FindCoordinator v2 for our probe group,
# then of OffsetFetch v3 for it; the first one creates __consumer_offsets on a fresh broker, the
# second is only 0 once the group coordinator has loaded the group's partition.
group_coordinator_error() {
  local r
  r="$(kafka_rpc "$KAFKA_PORT" 14 "\x00\x00\x00\x20\x00\x0a\x00\x02GPST\x00\x04gpst\x00\x0f$KAFKA_GROUP_PROBE\x00")"
  [ "${#r}" -eq 28 ] || { echo -1; return; }
  [ "${r:24:4}" = 0000 ] || { echo $((16#${r:24:4})); return; }
  r="$(kafka_rpc "$KAFKA_PORT" 18 "\x00\x00\x00\x23\x00\x09\x00\x03GPST\x00\x04gpst\x00\x0f$KAFKA_GROUP_PROBE\xff\xff\xff\xff")"
  [ "${#r}" -eq 36 ] || { echo -1; return; }
  echo $((16#${r:32:4}))
}

running_version() { cat "$KAFKA_VERSION_FILE" 2>/dev/null || echo unknown; }

# ready: our process is alive, logged that it started, and answers Kafka requests.
ready() {
  ours && [ -f "$KAFKA_LOGS/server.log" ] &&
    grep -q 'Kafka Server started' "$KAFKA_LOGS/server.log" &&
    kafka_answers "$KAFKA_PORT"
}

show_logs() {
  local f
  for f in "$KAFKA_OUT" "$KAFKA_LOGS/server.log"; do
    [ -s "$f" ] || continue
    printf -- '----- tail -n 40 %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

# ---------------------------------------------------------------------------------------------
# Java, Maven and the Kafka jars

ensure_java() {
  if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    apt_install default-jre-headless maven
  fi
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [ "${v%%.*}" -ge 17 ] 2>/dev/null || die "Kafka $KAFKA_VERSION needs Java 17+, found '${v:-?}' ($(command -v java))"
}

# ensure_artifacts: $KAFKA_LIB holds kafka_2.13-$KAFKA_VERSION and its runtime dependencies.
# The .complete marker records the pom's checksum: a changed pom re-resolves, nothing else does.
ensure_artifacts() {
  local pom="$KAFKA_SCRIPT_DIR/kafka/pom.xml" sum
  sum="$(sha256sum "$pom" | cut -d' ' -f1)"
  [ "$(cat "$KAFKA_LIB/.complete" 2>/dev/null)" = "$sum" ] && return 0
  ensure_java
  (
    flock 8 # one resolver per version, even across clones sharing the cache
    [ "$(cat "$KAFKA_LIB/.complete" 2>/dev/null)" = "$sum" ] && exit 0
    log "resolving Kafka $KAFKA_VERSION with Maven…"
    local tmp="$KAFKA_HOME/lib.tmp.$$" mvn_log="$KAFKA_DIR/mvn.log"
    mkdir -p "$KAFKA_HOME"
    rm -rf "$tmp"
    # (sed strips the ANSI resets Maven 3.8 prints even in batch mode; pipefail keeps mvn's status)
    if ! mvn -B -q -f "$pom" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$mvn_log"; then
      grep -m 3 '^\[ERROR\] .' "$mvn_log" >&2 || tail -n 8 "$mvn_log" >&2
      rm -rf "$tmp"
      [ -d "$KAFKA_LIB" ] || rm -rf "$KAFKA_HOME" "$CACHE_DIR/.kafka-$KAFKA_VERSION.lock"
      die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log: $mvn_log)"
    fi
    [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "resolving Kafka $KAFKA_VERSION produced no kafka_2.13 jar"
    rm -rf "$KAFKA_LIB"
    mv "$tmp" "$KAFKA_LIB"
    echo "$sum" >"$KAFKA_LIB/.complete"
    log "Kafka $KAFKA_VERSION: $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $KAFKA_LIB"
  ) 8>"$CACHE_DIR/.kafka-$KAFKA_VERSION.lock"
}

# ---------------------------------------------------------------------------------------------
# Configuration

write_config() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  cat >"$KAFKA_PROPS.tmp" <<EOF
# Generated by deploy/local/kafka.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA

# Single node: every internal topic with one replica, and fewer partitions than the default 50
# (faster first group join, smaller logs: the broker logs per-partition lines on many events).
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Tests want fast group joins; the project creates its topics explicitly.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=6
# kafkajs speaks only the classic group protocol (no KIP-848). It is enabled by default in every
# supported version; group.coordinator.rebalance.protocols is deliberately left unset (deprecated
# since 4.4, and listing protocols explicitly would disable the ones left out).

# After an unclean stop (kill -9, crash) the restarted broker can only re-register once the old
# incarnation's session expired: shorter than the default 9 s so recovery is quick.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000

# Small machine: few threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  mv "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"
  cp "$KAFKA_SCRIPT_DIR/kafka/log4j2.properties" "$KAFKA_DIR/log4j2.properties"
}

# Quiet JVM for the one-shot storage tool (no server log file).
storage_tool() {
  java -Xmx256m -Dlog4j2.level=WARN -cp "$KAFKA_LIB/*" kafka.tools.StorageTool "$@"
}

format_storage() {
  [ -f "$KAFKA_DATA/meta.properties" ] && return 0
  local cluster_id
  cluster_id="$(storage_tool random-uuid | tail -n 1)"
  [ -n "$cluster_id" ] || die "kafka.tools.StorageTool random-uuid printed nothing"
  log "formatting $KAFKA_DATA (cluster id $cluster_id)"
  storage_tool format -t "$cluster_id" -c "$KAFKA_PROPS" >"$KAFKA_LOGS/format.log" 2>&1 || {
    tail -n 40 "$KAFKA_LOGS/format.log" >&2
    die "kafka.tools.StorageTool format failed (log: $KAFKA_LOGS/format.log)"
  }
}

# ---------------------------------------------------------------------------------------------
# Commands

stop_broker() {
  if ! ours; then
    [ -f "$KAFKA_PID" ] && rm -f "$KAFKA_PID"
    return 0
  fi
  local pid
  pid="$(cat "$KAFKA_PID")"
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 30 "Kafka to shut down" gone "$pid"; then
    log "Kafka did not stop in 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 10 "Kafka to die" gone "$pid" || die "could not kill Kafka (pid $pid)"
  fi
  rm -f "$KAFKA_PID"
}

# gone PID: the process has exited (a zombie child of this shell counts as exited).
gone() { [ -z "$(cmdline "$1")" ]; }

cmd_up() {
  if ours && [ "$(running_version)" = "$KAFKA_VERSION" ] && kafka_answers "$KAFKA_PORT"; then
    log "kafka already running at $KAFKA_BOOTSTRAP (Kafka $KAFKA_VERSION, pid $(cat "$KAFKA_PID"))"
    echo "$KAFKA_BOOTSTRAP"
    return 0
  fi

  if ! ours && kafka_answers "$KAFKA_PORT"; then
    # Another checkout's broker (same machine) already serves this port: reuse it, never stop it.
    log "a Kafka broker from another checkout answers on $KAFKA_BOOTSTRAP: reused"
    echo "$KAFKA_BOOTSTRAP"
    return 0
  fi

  # Before touching a running broker: a version that cannot be resolved changes nothing.
  ensure_artifacts
  ensure_java

  if ours; then
    log "kafka (pid $(cat "$KAFKA_PID"), Kafka $(running_version)) is not serving Kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP: restarting it"
    stop_broker
  elif [ -f "$KAFKA_PID" ]; then
    log "removing stale pid file $KAFKA_PID"
    rm -f "$KAFKA_PID"
  fi

  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    ! port_open "$p" || die "port 127.0.0.1:$p is in use by another process (not our Kafka): stop it or set GOALPOST_KAFKA_PORT / GOALPOST_KAFKA_CONTROLLER_PORT"
  done

  write_config
  format_storage

  local attempt
  for attempt in 1 2; do
    start_broker && break
    # A listener port can be held for up to 60 s by a TIME-WAIT connection that used it as its
    # ephemeral source port (29092/29093 lie inside Linux's default 32768-60999 range): wait, retry once.
    if [ "$attempt" -eq 1 ] && ! ours && grep -qs 'Address already in use' "$KAFKA_LOGS/server.log" "$KAFKA_OUT"; then
      log "a Kafka port was still held by an old connection (bind: Address already in use); waiting for the kernel to release it"
      wait_until 75 "ports $KAFKA_PORT and $KAFKA_CONTROLLER_PORT to be released" ports_released || true
      continue
    fi
    show_logs
    ! ours || stop_broker
    rm -f "$KAFKA_PID"
    if grep -qs 'metadata.version\|MetadataVersion' "$KAFKA_LOGS/server.log" "$KAFKA_OUT"; then
      log "hint: $KAFKA_DATA may have been written by a newer Kafka; remove it to start with an empty broker"
    fi
    die "Kafka $KAFKA_VERSION did not start (logs: $KAFKA_OUT, $KAFKA_LOGS/server.log)"
  done
  log "kafka ready at $KAFKA_BOOTSTRAP (Kafka $KAFKA_VERSION, pid $(cat "$KAFKA_PID"))"
  echo "$KAFKA_BOOTSTRAP"
}

# ports_released: no TCP socket of any state (listening, connected, TIME-WAIT) has one of our ports
# as its local port.
ports_released() {
  local hex
  for hex in "$(printf '%04X' "$KAFKA_PORT")" "$(printf '%04X' "$KAFKA_CONTROLLER_PORT")"; do
    ! awk -v p=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null || return 1
  done
}

# start_broker: launches the JVM and waits until it is ready; false when it exited or timed out.
start_broker() {
  # Each start gets a fresh server.log (the previous one is kept as server.log.prev), so the
  # readiness check only sees this run's "Kafka Server started".
  [ -f "$KAFKA_LOGS/server.log" ] && mv -f "$KAFKA_LOGS/server.log" "$KAFKA_LOGS/server.log.prev"
  [ -f "$KAFKA_OUT" ] && mv -f "$KAFKA_OUT" "$KAFKA_OUT.prev"

  log "starting Kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, state in $KAFKA_DIR)"
  # shellcheck disable=SC2086 # KAFKA_HEAP is a list of JVM options
  nohup setsid java $KAFKA_HEAP \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_LOGS" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -Dlog4j2.shutdownHookEnabled=false \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_PROPS" \
    >"$KAFKA_OUT" 2>&1 </dev/null 9>&- &
  echo $! >"$KAFKA_PID"
  echo "$KAFKA_VERSION" >"$KAFKA_VERSION_FILE"

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until ready; do
    if ! ours; then
      log "Kafka exited during startup"
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "Kafka was not ready within ${KAFKA_START_TIMEOUT}s"
      return 1
    fi
    sleep 0.2
  done

  # "Kafka Server started" precedes the group coordinator being usable: on a fresh data dir the
  # first consumer would race the creation of __consumer_offsets (kafkajs then logs "coordinator
  # is not available" or crashes-and-restarts on "coordinator is loading"). Wait for it here.
  local err no_reply=0
  while :; do
    err="$(group_coordinator_error)"
    case "$err" in
      0) break ;;
      14 | 15 | 16) ;; # COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
      -1)               # no reply (a future Kafka without these request versions closes the connection)
        no_reply=$((no_reply + 1))
        [ "$no_reply" -lt 10 ] || { log "group coordinator probe got no reply: not waiting for it"; break; }
        ;;
      *)
        log "group coordinator probe got Kafka error $err: not waiting for it"
        break
        ;;
    esac
    ours || { log "Kafka exited during startup"; return 1; }
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the group coordinator was not available within ${KAFKA_START_TIMEOUT}s (last error $err)"
      return 1
    fi
    sleep 0.2
  done
}

cmd_status() {
  if ours && kafka_answers "$KAFKA_PORT"; then
    printf '%-9s %-8s %s\n' kafka running "$KAFKA_BOOTSTRAP (Kafka $(running_version))"
  elif ours; then
    printf '%-9s %-8s %s\n' kafka starting "$KAFKA_BOOTSTRAP (Kafka $(running_version), pid $(cat "$KAFKA_PID"), not answering yet)"
  elif kafka_answers "$KAFKA_PORT"; then
    printf '%-9s %-8s %s\n' kafka running "$KAFKA_BOOTSTRAP (another checkout's broker)"
  else
    printf '%-9s %s\n' kafka stopped
  fi
}

# up and down run one at a time per stack dir (lock on fd 9; the broker is started with fd 9 closed).
lock() {
  exec 9>"$KAFKA_DIR/.lock"
  flock 9
}

case "${1:-}" in
  up) lock && cmd_up ;;
  down) lock && stop_broker ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
