#!/usr/bin/env bash
# Installs what building and testing askonce needs on a Debian machine, when
# missing: PostgreSQL 15 server binaries (for the private instance; no
# system service is used) and kcat (an independent Kafka client the tests
# use to prove the topics are real Kafka). Idempotent and quiet when all is there.
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/1[5-9]/bin/postgres" >/dev/null || need+=(postgresql-15)
command -v kcat >/dev/null || need+=(kcat)

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
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "deps: installed ${need[*]}" >&2
