#!/usr/bin/env bash
# What the deployment tests (tests/deploy) need besides the Python packages; idempotent:
#  - promtool, from Debian's `prometheus` package (installed when missing; the Prometheus
#    server the package brings is stopped and disabled: the tests need only promtool);
#  - the local RabbitMQ's plugins rabbitmq_shovel (the county-province link) and
#    rabbitmq_prometheus (its metrics), enabled on the running broker without a restart.
# kubectl (its built-in kustomize) and systemd-analyze come with the machine image.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "promtool is missing: install Debian's prometheus package (apt-get install prometheus)" >&2
    exit 1
  fi
  echo "installing promtool (Debian package prometheus)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# never leave the package's Prometheus server running or enabled
if [ -e /lib/systemd/system/prometheus.service ] || [ -e /etc/init.d/prometheus ]; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  else
    if [ -e /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
      /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
    command -v update-rc.d >/dev/null 2>&1 && update-rc.d prometheus disable >/dev/null 2>&1 || true
    rm -f /etc/systemd/system/multi-user.target.wants/prometheus.service
  fi
fi

if command -v rabbitmq-plugins >/dev/null 2>&1; then
  # the broker's list of enabled plugins (reading it is much faster than `rabbitmq-plugins list`)
  plugins_file=${RABBITMQ_ENABLED_PLUGINS_FILE:-/etc/rabbitmq/enabled_plugins}
  enabled=$(cat "$plugins_file" 2>/dev/null || true)
  missing=""
  for p in rabbitmq_shovel rabbitmq_prometheus; do
    grep -qE "(\[|,)[[:space:]]*$p[[:space:]]*(,|\])" <<<"$enabled" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "enabling RabbitMQ plugins:$missing"
    rabbitmq-plugins enable $missing >/dev/null
  fi
else
  echo "rabbitmq-plugins not found: tests/deploy need a local RabbitMQ with the plugins" \
       "rabbitmq_shovel and rabbitmq_prometheus enabled" >&2
fi
