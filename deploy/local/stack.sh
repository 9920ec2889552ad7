#!/usr/bin/env bash
# Goalpost's local stack: PostgreSQL+TimescaleDB, Kafka (KRaft) and Redis on loopback.
#   stack.sh up      start what is not running (installs/builds what is missing), wait until healthy
#   stack.sh down    stop all three
#   stack.sh status  say what runs
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE="$(dirname "${BASH_SOURCE[0]}")"

up() {
  local started=$SECONDS
  mkdir -p "$STACK_DIR/logs"
  # The slow parts (TimescaleDB build, Kafka download) are independent: run them side by side.
  bash "$HERE/postgres.sh" up >"$STACK_DIR/logs/pg.url" 2>"$STACK_DIR/logs/pg.up.log" &
  local pg=$!
  bash "$HERE/kafka.sh" up >"$STACK_DIR/logs/kafka.url" 2>"$STACK_DIR/logs/kafka.up.log" &
  local kafka=$!
  # Stream both logs while waiting so progress stays visible.
  tail -q -n +1 -F "$STACK_DIR/logs/pg.up.log" "$STACK_DIR/logs/kafka.up.log" >&2 2>/dev/null &
  local tailer=$!
  local rc=0
  bash "$HERE/redis.sh" up >"$STACK_DIR/logs/redis.url" || rc=1
  wait "$pg" || { log "postgres failed (see $STACK_DIR/logs/pg.up.log)"; rc=1; }
  wait "$kafka" || { log "kafka failed (see $STACK_DIR/logs/kafka.up.log)"; rc=1; }
  sleep 0.3
  kill "$tailer" 2>/dev/null || true
  wait "$tailer" 2>/dev/null || true
  [ "$rc" -eq 0 ] || die "stack did not come up"
  log "stack up in $((SECONDS - started))s"
  echo "DATABASE_URL=$(tail -n1 "$STACK_DIR/logs/pg.url")"
  echo "KAFKA_BROKERS=$(tail -n1 "$STACK_DIR/logs/kafka.url")"
  echo "REDIS_URL=$(tail -n1 "$STACK_DIR/logs/redis.url")"
}

down() {
  bash "$HERE/kafka.sh" down
  bash "$HERE/postgres.sh" down
  bash "$HERE/redis.sh" down
}

status() {
  bash "$HERE/postgres.sh" status
  bash "$HERE/kafka.sh" status
  bash "$HERE/redis.sh" status
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
