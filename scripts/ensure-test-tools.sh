#!/usr/bin/env bash
# What the deployment tests (tests/deploy) need besides the Python packages; idempotent:
#  - promtool, from Debian's `prometheus` package (installed when missing; the Prometheus
#    server the package brings is stopped and disabled: the tests need only promtool);
#  - nginx, from Debian's `nginx-light` (its server stopped and disabled likewise); with the
#    argument `perf`, also wrk (the benchmarks' HTTP load generator);
#  - the local RabbitMQ's plugins rabbitmq_shovel and rabbitmq_shovel_management (the
#    county-province link and its state) and rabbitmq_prometheus (its metrics), enabled on the
#    running broker without a restart.
#  - Debian's `chromium` and `fonts-noto-cjk` (the console's browser test, tests/browser, drives
#    /usr/bin/chromium through Playwright; the fonts draw its Chinese).
# kubectl (its built-in kustomize) and systemd-analyze come with the machine image.
set -euo pipefail

# apt_install WHAT PACKAGE: install Debian's PACKAGE, which brings WHAT (as root; else say how)
updated=""
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$1 is missing: install Debian's $2 package (apt-get install $2)" >&2
    exit 1
  fi
  echo "installing $1 (Debian package $2)"
  export DEBIAN_FRONTEND=noninteractive
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

# install_missing COMMAND PACKAGE: the Debian package that brings COMMAND, when it is missing
install_missing() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$1" "$2"
}

# install_package PACKAGE: a package that brings no command of its own (fonts), when missing
install_package() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" ||
    apt_install "$1" "$1"
}

install_missing promtool prometheus
install_missing chromium chromium         # tests/browser (Playwright drives Debian's Chromium)
install_package fonts-noto-cjk
install_missing nginx nginx-light        # `nginx -t` on deploy/nginx (the front door)
if [ "${1:-}" = perf ]; then
  install_missing wrk wrk                # the load generator of tests/perf/bench_register.py
fi

# never leave the nginx server the package may have started running: tests start their own
if [ -e /etc/init.d/nginx ] && [ ! -d /run/systemd/system ]; then
  /etc/init.d/nginx status >/dev/null 2>&1 && /etc/init.d/nginx stop >/dev/null 2>&1 || true
  command -v update-rc.d >/dev/null 2>&1 && update-rc.d nginx disable >/dev/null 2>&1 || true
elif [ -d /run/systemd/system ]; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
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
  # the hub's plugins, as scripts/ensure-services.sh lists and finds them (all in one
  # `enable`: a plugin enabled only as another's dependency is not written to the file)
  missing=$(. "$(dirname "$0")/ensure-services.sh" && missing_plugins)
  if [ -n "$missing" ]; then
    echo "enabling RabbitMQ plugins: $missing"
    rabbitmq-plugins enable $missing >/dev/null
  fi
else
  echo "rabbitmq-plugins not found: tests/deploy need a local RabbitMQ with the plugins" \
       "rabbitmq_shovel, rabbitmq_shovel_management and rabbitmq_prometheus enabled" >&2
fi
