#!/usr/bin/env bash
# Creates the pilot's secrets once (never overwrites): a PostgreSQL password,
# the URLs that use it (postgres_url, sources_url), the registry's password,
# askonce.env, Grafana's admin password, and a policy skeleton. Then edit policy.yaml: `askonce policy new-key` prints a
# client key and the hash to put in the file.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
gen() { head -c 24 /dev/urandom | base64 | tr -d '/+=' ; }
[[ -e postgres_password ]] || gen >postgres_password
pw=$(cat postgres_password)
[[ -e postgres_url ]] || echo "postgres://askonce:$pw@postgres:5432/askonce?sslmode=disable" >postgres_url
[[ -e sources_url ]] || echo "postgres://askonce:$pw@postgres:5432/askonce_sources?sslmode=disable" >sources_url
[[ -e registry_password ]] || gen >registry_password
[[ -e askonce.env ]] || cp askonce.env.example askonce.env
[[ -e grafana_admin_password ]] || gen >grafana_admin_password
# One Kafka password per principal of internal/access: those the compose file
# mounts (secrets/kafka/<principal>), then the agencies' back offices and the
# operator, whose passwords are handed to them. kafka-access sets them all.
mkdir -p kafka
principals=$(grep -o 'secrets/kafka/askonce-[a-z0-9-]*' ../docker-compose.yaml | sed 's|secrets/kafka/||' | sort -u)
for a in cnr cnas casnos cnac anem cacobatph etatcivil; do principals+=" askonce-backoffice-$a"; done
principals+=" askonce-operator"
for p in $principals; do
  [[ -e kafka/$p ]] || gen >"kafka/$p"
done
if [[ ! -e policy.yaml ]]; then
  cat >policy.yaml <<'POLICY'
# The lookup policy of the pilot (docs/api.md, "The policy"): deny by default.
clients: []
POLICY
fi
# The containers run as 65532; Docker secrets are bind mounts of these files.
chmod 0644 policy.yaml grafana_admin_password postgres_password postgres_url sources_url registry_password kafka/*
chmod 0755 kafka
echo "secrets ready in $(pwd)"
