#!/usr/bin/env bash
# Start a local PostgreSQL (Debian's packages) for the tests that must also pass on it,
# and print its SQLAlchemy URL. Installs the server when it is missing.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_createcluster "$version" main >&2
  cluster="$version main"
fi
pg_ctlcluster $cluster start >&2 2>/dev/null || true
port=$(pg_lsclusters --no-header | awk 'NR==1 {print $3}')
for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $port -qtAc \"select 1 from pg_roles where rolname='assistant'\"" | grep -q 1 \
  || su postgres -c "psql -p $port -qc \"create role assistant login password 'assistant'\"" >&2
su postgres -c "psql -p $port -qtAc \"select 1 from pg_database where datname='assistant_test'\"" | grep -q 1 \
  || su postgres -c "createdb -p $port -O assistant assistant_test" >&2
echo "postgresql://assistant:assistant@127.0.0.1:$port/assistant_test"
