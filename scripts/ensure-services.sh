#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer on 127.0.0.1, as `make run` and `make test` need them.
#  - Missing (neither answering nor installed): as root, installs them from Debian's packages
#    (apt-get install postgresql rabbitmq-server); otherwise says exactly what to run.
#  - Installed but stopped: starts them (systemctl under systemd, else pg_ctlcluster
#    --skip-systemctl-redirect and rabbitmq-server -detached).
#  - PostgreSQL: the hub's default admin is `postgres` over 127.0.0.1 without a password
#    (HUB_PG_DSN unset); when that login is refused, as root, lets 127.0.0.1 in without one
#    (one `trust` line at the top of pg_hba.conf: a demo or test machine, never production).
#  - RabbitMQ: enables the plugins the hub uses on the running broker, without a restart.
# Idempotent: with everything installed, running and configured it changes nothing.
# Sourced (`. scripts/ensure-services.sh`) it only defines its functions
# (tests/deploy/test_ensure_services.py checks its decisions that way).
set -u
PG_PORT=${PG_PORT:-5432}
AMQP_PORT=${AMQP_PORT:-5672}
AMQP_ADMIN_PORT=${AMQP_ADMIN_PORT:-15672}
# management: `hub setup` makes the services' broker users through its API; shovel and its
# management part: the county-province link (`hub province link`, `hub province status`);
# prometheus: the broker's metrics (deploy/prometheus)
HUB_RABBITMQ_PLUGINS="rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management rabbitmq_prometheus"
PLUGINS_FILE=${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}
PG_ETC=${PG_ETC:-/etc/postgresql}   # the clusters' configuration (pg_hba.conf)
HBA_MARK="# shegong-hub demo (scripts/ensure-services.sh): the admin postgres over 127.0.0.1, no password"

have() { command -v "$1" >/dev/null 2>&1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {  # port seconds
  for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done
  return 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }
under_systemd() { [ -d /run/systemd/system ]; }

# pg_cluster: "VERSION NAME" of the local cluster on PG_PORT (else the first one), or nothing
pg_cluster() {
  have pg_lsclusters || return 0
  local clusters
  clusters=$(pg_lsclusters -h 2>/dev/null) || return 0
  awk -v port="$PG_PORT" 'NF && $3 == port {print $1, $2; found=1; exit} END {if (!found) exit 1}' \
    <<<"$clusters" || awk 'NF {print $1, $2; exit}' <<<"$clusters"
}

# missing_packages: the Debian packages to install, "" when nothing is missing. A server that
# answers on its port counts as there (perhaps elsewhere: HUB_PG_DSN, HUB_AMQP_URI).
missing_packages() {
  local missing=()
  if ! port_open "$PG_PORT" && { ! have pg_ctlcluster || [ -z "$(pg_cluster)" ]; }; then
    missing+=(postgresql)
  fi
  if ! port_open "$AMQP_PORT" && ! have rabbitmq-server; then
    missing+=(rabbitmq-server)
  fi
  echo "${missing[*]}"
}

# missing_plugins: the hub's RabbitMQ plugins not in the broker's enabled_plugins file
missing_plugins() {
  local enabled missing=() p
  enabled=$(cat "$PLUGINS_FILE" 2>/dev/null || true)
  for p in $HUB_RABBITMQ_PLUGINS; do
    grep -qE "(\[|,)[[:space:]]*$p[[:space:]]*(,|\])" <<<"$enabled" || missing+=("$p")
  done
  echo "${missing[*]}"
}

# pg_admin_refused: the hub's default admin login (postgres over 127.0.0.1, no password) is
# refused while PostgreSQL answers; false when HUB_PG_DSN names another admin (the environment
# or var/hub.env) or when psql is not there to ask
pg_admin_refused() {
  [ -z "${HUB_PG_DSN:-}" ] || return 1
  grep -qs '^HUB_PG_DSN=' "${HUB_VAR_DIR:-var}/hub.env" && return 1
  have psql && port_open "$PG_PORT" || return 1
  ! PGCONNECT_TIMEOUT=5 psql -w -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
      -c 'select 1' >/dev/null 2>&1
}

# the commands that do it all, for someone who is not root
root_commands() {
  echo "  sudo $0        # installs what is missing from Debian's packages, configures and starts it"
  echo "or by hand:"
  echo "  sudo apt-get update && sudo apt-get install -y postgresql rabbitmq-server"
  echo "  sudo rabbitmq-plugins enable $HUB_RABBITMQ_PLUGINS"
  echo "  and let postgres log in over 127.0.0.1 without a password: the line"
  echo "  'host all all 127.0.0.1/32 trust' at the top of /etc/postgresql/15/main/pg_hba.conf, then"
  echo "  sudo pg_ctlcluster 15 main reload"
  echo "(or point HUB_PG_DSN and HUB_AMQP_URI at servers elsewhere)"
}

install_packages() {  # PACKAGE...
  echo "installing $* (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8  # a UTF8 cluster
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_ctl() {  # ACTION: on the local cluster
  local cluster
  cluster=$(pg_cluster)
  [ -n "$cluster" ] || return 1
  if under_systemd; then pg_ctlcluster $cluster "$1"
  else pg_ctlcluster --skip-systemctl-redirect $cluster "$1"; fi
}

configure_postgresql() {
  local cluster hba
  cluster=$(pg_cluster)
  hba=$PG_ETC/${cluster// //}/pg_hba.conf
  [ -n "$cluster" ] && [ -f "$hba" ] || { echo "no pg_hba.conf found for the local cluster" >&2; return 1; }
  grep -qF "$HBA_MARK" "$hba" && return 0
  echo "letting the hub's admin (postgres) in over 127.0.0.1 without a password: $hba"
  { echo "$HBA_MARK"; echo "host    all    all    127.0.0.1/32    trust"; echo; cat "$hba"; } > "$hba.new"
  chown --reference="$hba" "$hba.new" && chmod --reference="$hba" "$hba.new" && mv "$hba.new" "$hba"
  pg_ctl reload >/dev/null
}

main() {
  local ok=0 missing
  missing=$(missing_packages)
  if [ -n "$missing" ]; then
    if is_root && have apt-get; then
      install_packages $missing || { echo "apt-get install $missing failed" >&2; return 1; }
    else
      for p in $missing; do
        case $p in
          postgresql) echo "PostgreSQL is not installed (nothing answers on 127.0.0.1:$PG_PORT)" >&2 ;;
          rabbitmq-server) echo "RabbitMQ is not installed (nothing answers on 127.0.0.1:$AMQP_PORT)" >&2 ;;
        esac
      done
      echo "Install them, as root:" >&2
      root_commands >&2
      return 1
    fi
  fi

  if ! port_open "$PG_PORT"; then
    echo "PostgreSQL is stopped: starting it"
    if pg_ctl start; then
      wait_port "$PG_PORT" 30 || { echo "PostgreSQL did not come up on 127.0.0.1:$PG_PORT; see /var/log/postgresql/" >&2; ok=1; }
    else
      is_root || echo "start it as root: sudo pg_ctlcluster $(pg_cluster) start" >&2
      ok=1
    fi
  fi
  if [ $ok -eq 0 ] && pg_admin_refused; then
    if is_root && [ -n "$(pg_cluster)" ]; then
      configure_postgresql || ok=1
      pg_admin_refused && { echo "PostgreSQL still refuses postgres over 127.0.0.1" >&2; ok=1; }
    else
      echo "PostgreSQL refuses the hub's admin (postgres over 127.0.0.1 without a password);" \
           "set HUB_PG_DSN, or as root:" >&2
      root_commands >&2
      ok=1
    fi
  fi

  if ! port_open "$AMQP_PORT"; then
    echo "RabbitMQ is stopped: starting it"
    if under_systemd && is_root; then systemctl start rabbitmq-server || true
    else rabbitmq-server -detached >/dev/null 2>&1 || true; fi
    wait_port "$AMQP_PORT" 90 || { echo "RabbitMQ did not come up on 127.0.0.1:$AMQP_PORT; see /var/log/rabbitmq/" >&2
      is_root || echo "start it as root: sudo rabbitmq-server -detached" >&2
      ok=1; }
  fi
  # a broker that accepts TCP may still be booting: wait until it answers AMQP (rabbitmqctl
  # needs the broker's Erlang cookie: root's, or the user's own broker's)
  if [ $ok -eq 0 ] && have rabbitmqctl && { is_root || [ -r "${HOME:-/nonexistent}/.erlang.cookie" ]; }; then
    for _ in $(seq 1 60); do rabbitmqctl await_startup >/dev/null 2>&1 && break; sleep 1; done
  fi
  # the plugins, enabled on the running broker (no restart)
  if [ $ok -eq 0 ] && have rabbitmq-plugins; then
    missing=$(missing_plugins)
    if [ -n "$missing" ]; then
      echo "enabling the RabbitMQ plugins $missing"
      rabbitmq-plugins enable $missing >/dev/null || {
        is_root || echo "as root: sudo rabbitmq-plugins enable $missing" >&2
        ok=1; }
    fi
    wait_port "$AMQP_ADMIN_PORT" 60 || {
      echo "RabbitMQ's management API did not come up on 127.0.0.1:$AMQP_ADMIN_PORT" >&2; ok=1; }
  fi
  return $ok
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
  exit $?
fi
