#!/usr/bin/env bash
# Creates the pilot's secrets once (never overwrites): a PostgreSQL password,
# the URLs that use it (postgres_url, the owner's, for the migrate step;
# sources_url), a password and a URL per component's login role
# (pg_password_<role>, pg_url_<role>), the registry's password,
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
# One login per component (`askonce migrate --logins` creates askonce_<role>_login
# with this password, member of the group role askonce_<role> only).
login_url() { echo "postgres://askonce_$1_login:$(cat "pg_password_$1")@postgres:5432/askonce?sslmode=disable"; }
[[ -e pg_password_api ]] || gen >pg_password_api
[[ -e pg_url_api ]] || login_url api >pg_url_api
[[ -e pg_password_materialize ]] || gen >pg_password_materialize
[[ -e pg_url_materialize ]] || login_url materialize >pg_url_materialize
[[ -e pg_password_notify ]] || gen >pg_password_notify
[[ -e pg_url_notify ]] || login_url notify >pg_url_notify
[[ -e pg_password_connect ]] || gen >pg_password_connect
[[ -e pg_url_connect ]] || login_url connect >pg_url_connect
[[ -e pg_password_registry ]] || gen >pg_password_registry
[[ -e pg_url_registry ]] || login_url registry >pg_url_registry
[[ -e pg_password_reader ]] || gen >pg_password_reader
[[ -e pg_url_reader ]] || login_url reader >pg_url_reader
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
chmod 0644 policy.yaml grafana_admin_password postgres_password postgres_url sources_url registry_password pg_password_* pg_url_* kafka/*
chmod 0755 kafka
echo "secrets ready in $(pwd)"
