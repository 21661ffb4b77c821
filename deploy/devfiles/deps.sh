#!/usr/bin/env bash
# Installs what building and testing askonce needs on a Debian machine, when
# missing: PostgreSQL 15 server binaries (for the private instance; no
# system service is used), kcat (an independent Kafka client the tests
# use to prove the topics are real Kafka), python3-confluent-kafka (Debian's
# Python binding of librdkafka: `make chaos` runs a hostile producer written
# with it, internal/chaos/testdata/hostile.py, under /usr/bin/python3, never
# a pip or pyenv install), and Prometheus (promtool checks the
# rules in deploy/promrules, and deploy/deploytest runs a real Prometheus that
# scrapes askonce; the Debian package's system service is never left running:
# the tests start their own process on a free port), Chromium (the clerk
# console's browser tests drive Debian's /usr/bin/chromium with Playwright;
# never a browser build downloaded by `npx playwright install`) and npm when
# the machine's Node.js came without it (the tests `npm ci` playwright-core
# from internal/console/browser/package-lock.json). Idempotent and quiet
# when all is there.
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/1[5-9]/bin/postgres" >/dev/null || need+=(postgresql-15)
command -v kcat >/dev/null || need+=(kcat)
# Debian's binding, for Debian's interpreter (a pyenv or venv python3 first on
# PATH would not see it): checked by importing it with /usr/bin/python3.
{ [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1; } || need+=(python3-confluent-kafka)
{ command -v promtool >/dev/null && [[ -x /usr/bin/prometheus ]]; } || need+=(prometheus)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
# A font with Arabic glyphs, for the console's right-to-left pages and PDFs.
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || need+=(fonts-dejavu-core)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if ((${#need[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "deps: missing ${need[*]}: install them as root (apt-get install ${need[*]})" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "deps: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Package scripts must not start system services (the prometheus package's
# would bind :9090 and scrape on its own): a policy-rc.d that denies every
# start, for the time of the install only, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 0755 "$policy"
  own_policy=true
fi
trap '$own_policy && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [[ " ${need[*]} " == *" prometheus "* ]]; then
  # Where systemd runs, the unit may still have been enabled: stop and disable
  # it, so that nothing but the tests' own Prometheus scrapes this machine.
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  # Without systemd, a daemon started by the package script would be the
  # prometheus user's /usr/bin/prometheus: stop it by its pid file.
  if [[ -r /run/prometheus/prometheus.pid ]]; then
    $SUDO kill "$(cat /run/prometheus/prometheus.pid)" 2>/dev/null || true
  fi
fi
echo "deps: installed ${need[*]}" >&2
