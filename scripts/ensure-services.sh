#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer on 127.0.0.1; start them when installed but stopped.
# Says plainly what is missing when they are not installed. Enables the management API plugin.
set -u
PG_PORT=${PG_PORT:-5432}
AMQP_PORT=${AMQP_PORT:-5672}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # name port seconds
  for _ in $(seq 1 "$3"); do port_open "$2" && return 0; sleep 1; done
  return 1
}

ok=0
if port_open "$PG_PORT"; then :
elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "PostgreSQL is stopped: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_port postgresql "$PG_PORT" 30 || { echo "PostgreSQL did not come up on 127.0.0.1:$PG_PORT; see /var/log/postgresql/" >&2; ok=1; }
else
  echo "PostgreSQL is not installed: install PostgreSQL 15 (apt-get install postgresql) or point HUB_PG_DSN at a server" >&2
  ok=1
fi

if port_open "$AMQP_PORT"; then :
elif command -v rabbitmq-server >/dev/null 2>&1; then
  echo "RabbitMQ is stopped: starting it"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port rabbitmq "$AMQP_PORT" 90 || { echo "RabbitMQ did not come up on 127.0.0.1:$AMQP_PORT; see /var/log/rabbitmq/" >&2; ok=1; }
else
  echo "RabbitMQ is not installed: install RabbitMQ 3.10+ (apt-get install rabbitmq-server) or point HUB_AMQP_URI at a broker" >&2
  ok=1
fi
# a broker that accepts TCP may still be booting: wait until it answers AMQP
if [ $ok -eq 0 ] && command -v rabbitmqctl >/dev/null 2>&1; then
  for _ in $(seq 1 60); do rabbitmqctl await_startup >/dev/null 2>&1 && break; sleep 1; done
fi
# the management API: `hub setup` creates the services' and subscribers' broker users through it
if [ $ok -eq 0 ] && command -v rabbitmq-plugins >/dev/null 2>&1; then
  plugins_file=${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}
  if ! grep -qE "(\[|,)[[:space:]]*rabbitmq_management[[:space:]]*(,|\])" "$plugins_file" 2>/dev/null; then
    echo "enabling the RabbitMQ plugin rabbitmq_management"
    rabbitmq-plugins enable rabbitmq_management >/dev/null || ok=1
  fi
  wait_port rabbitmq-management "${AMQP_ADMIN_PORT:-15672}" 60 || {
    echo "RabbitMQ's management API did not come up on 127.0.0.1:${AMQP_ADMIN_PORT:-15672}" >&2; ok=1; }
fi
exit $ok
