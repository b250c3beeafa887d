#!/usr/bin/env bash
# with_postgres.sh CMD...: runs CMD against a throw-away PostgreSQL cluster (initdb + pg_ctl in a
# temporary directory, unix socket only, fsync off: test data), stopped and removed at the end.
# CMD sees PGHOST/PGPORT/PGUSER and LEUKOCRYPT_TEST_STORE=postgresql (tests/service/test_store.h).
# PostgreSQL refuses to run as root: as root the cluster runs as `nobody`.
# Without the server binaries: skipped (exit 77), a failure under CI=true (like ci_expected_suites).
set -euo pipefail
bindir="${LEUKOCRYPT_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "with_postgres: PostgreSQL server binaries not found (apt install postgresql-15)" >&2
  if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then exit 1; fi
  exit 77
fi
dir="$(mktemp -d /tmp/lc-pg-XXXXXX)"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  chown nobody:nogroup "$dir"
  as_owner=(setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env)
fi
stop() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
port=$((20000 + RANDOM % 20000))
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U lc --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-k $dir -c listen_addresses='' -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
export PGHOST="$dir" PGPORT="$port" PGUSER=lc LEUKOCRYPT_TEST_STORE=postgresql LEUKOCRYPT_TEST_PG_DATA="$dir/data"
export LEUKOCRYPT_TEST_PG_BINDIR="$bindir"
set +e
"$@"
rc=$?
set -e
exit $rc
