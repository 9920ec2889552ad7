#!/usr/bin/env bash
# Private Redis for Goalpost on 127.0.0.1:$REDIS_PORT, data and log under $STACK_DIR/redis.
# appendonly is on: BullMQ jobs must survive a restart.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DIR="$STACK_DIR/redis"
PIDFILE="$DIR/redis.pid"
URL="redis://127.0.0.1:$REDIS_PORT"

ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

up() {
  if ping; then
    log "redis already running on $REDIS_PORT"
    echo "$URL"
    return 0
  fi
  command -v redis-server >/dev/null || apt_install redis-server
  command -v redis-cli >/dev/null || apt_install redis-tools
  mkdir -p "$DIR/data"
  # The Debian package may start its own instance on 6379; ours is separate and never uses it.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$DIR/data" --pidfile "$PIDFILE" --logfile "$DIR/redis.log" \
    --appendonly yes --appendfsync everysec --save "" \
    --maxmemory-policy noeviction --protected-mode yes >/dev/null
  wait_until 20 "redis on $REDIS_PORT" ping || { tail -20 "$DIR/redis.log" >&2; die "redis did not start"; }
  log "redis started on $REDIS_PORT"
  echo "$URL"
}

down() {
  if ping && ! pid_alive "$PIDFILE"; then
    log "redis on $REDIS_PORT was started by another checkout: left running"
    return 0
  fi
  if ping; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    wait_until 20 "redis to stop" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT) 2>/dev/null" || true
    log "redis stopped"
  fi
}

status() {
  if ping; then
    printf 'redis     running  %s (%s)\n' "$URL" "$(redis-server --version | awk '{print $3}')"
  else
    printf 'redis     stopped\n'
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
