#!/usr/bin/env bash
# Start a local RabbitMQ for the conformance suite's real-server half.
#
#   bash scripts/start-rabbitmq.sh
#
# - Listens on 127.0.0.1:5672 only (AMQP), user guest/guest, vhost /. No plugins are enabled, so
#   nothing else listens; Erlang distribution and epmd are bound to the loopback interface too.
# - Idempotent: if something already answers AMQP on 127.0.0.1:5672, it says so and exits 0.
# - Installs Debian's rabbitmq-server package if the server is missing (needs root and apt-get).
# - Keeps its config, database, logs, pid file and plugin list in $MINIMQ_RABBITMQ_DIR
#   (default /tmp/minimq-rabbitmq), a folder owned by the rabbitmq user.
# - Waits up to $MINIMQ_RABBITMQ_WAIT seconds (default 90) for the server to answer; exits 1 with the
#   end of its output if it does not.
set -euo pipefail

HOST=127.0.0.1
PORT=5672
DIR=${MINIMQ_RABBITMQ_DIR:-/tmp/minimq-rabbitmq}
WAIT=${MINIMQ_RABBITMQ_WAIT:-90}

say() { echo "start-rabbitmq: $*" >&2; }
fail() { say "$*"; exit 1; }

# True when a server on HOST:PORT answers the AMQP 0-9-1 protocol header with a frame of type 1
# (the method frame carrying connection.start).
answers() {
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "AMQP\0\0\x09\x01" >&3
    [ "$(head -c 1 <&3 | od -An -tx1 | tr -d " \n")" = "01" ]
  ' "$HOST" "$PORT" 2>/dev/null
}

if answers; then
  say "a server already answers on $HOST:$PORT; nothing to do"
  exit 0
fi

[ "$(id -u)" = 0 ] || fail "nothing answers on $HOST:$PORT and starting RabbitMQ needs root (run this script as root)"

if [ ! -x /usr/sbin/rabbitmq-server ]; then
  command -v apt-get >/dev/null 2>&1 || fail "rabbitmq-server is not installed and apt-get is not available"
  say "installing Debian's rabbitmq-server package"
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null \
    || fail "apt-get install rabbitmq-server failed"
  # the package may start a server of its own through the init system; it would listen on every
  # interface, so stop it (this script's server is the one started below)
  if command -v service >/dev/null 2>&1; then service rabbitmq-server stop >/dev/null 2>&1 || true; fi
  if answers; then
    fail "the package's own server is still answering on $HOST:$PORT; stop it and run this script again"
  fi
fi
id rabbitmq >/dev/null 2>&1 || fail "the rabbitmq user does not exist (is the rabbitmq-server package installed?)"

mkdir -p "$DIR/mnesia" "$DIR/log"
cat > "$DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = $HOST:$PORT
loopback_users = none
EOF
echo '[].' > "$DIR/enabled_plugins"
rm -f "$DIR/rabbitmq.pid"
chown -R rabbitmq:rabbitmq "$DIR"

# Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and keeps these variables.
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=$HOST
export RABBITMQ_NODE_PORT=$PORT
export ERL_EPMD_ADDRESS=$HOST
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq"              # rabbitmq.conf (new-style format)
export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
export RABBITMQ_LOG_BASE="$DIR/log"
export RABBITMQ_PID_FILE="$DIR/rabbitmq.pid"
export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
export RABBITMQ_FEATURE_FLAGS_FILE="$DIR/feature_flags"

say "starting RabbitMQ on $HOST:$PORT (files in $DIR)"
(cd "$DIR" && exec setsid /usr/sbin/rabbitmq-server > "$DIR/server.out" 2>&1 < /dev/null) &
server=$!

for ((waited = 0; waited < WAIT; waited++)); do
  if answers; then
    say "RabbitMQ answers on $HOST:$PORT after ${waited}s"
    exit 0
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    say "rabbitmq-server exited before answering; end of $DIR/server.out:"
    tail -n 20 "$DIR/server.out" >&2 || true
    fail "RabbitMQ did not start (logs in $DIR/log)"
  fi
  sleep 1
done
say "end of $DIR/server.out:"
tail -n 20 "$DIR/server.out" >&2 || true
fail "RabbitMQ did not answer on $HOST:$PORT within ${WAIT}s (logs in $DIR/log)"
