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
for role in api materialize notify connect registry reader; do
  [[ -e pg_password_$role ]] || gen >pg_password_$role
  [[ -e pg_url_$role ]] || echo "postgres://askonce_${role}_login:$(cat pg_password_$role)@postgres:5432/askonce?sslmode=disable" >pg_url_$role
done
[[ -e registry_password ]] || gen >registry_password
[[ -e askonce.env ]] || cp askonce.env.example askonce.env
[[ -e grafana_admin_password ]] || gen >grafana_admin_password
if [[ ! -e policy.yaml ]]; then
  cat >policy.yaml <<'POLICY'
# The lookup policy of the pilot (docs/api.md, "The policy"): deny by default.
clients: []
POLICY
fi
# The containers run as 65532; Docker secrets are bind mounts of these files.
chmod 0644 policy.yaml grafana_admin_password postgres_password postgres_url sources_url registry_password pg_password_* pg_url_*
echo "secrets ready in $(pwd)"
