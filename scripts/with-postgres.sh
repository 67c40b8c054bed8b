#!/usr/bin/env bash
# with-postgres.sh COMMAND...: runs COMMAND with a PostgreSQL server of its
# own and PULSEGRID_TEST_PG naming it, then stops the server and removes
# its files, whatever COMMAND did.
#
# The server is Debian's postgresql package (installed when missing),
# started as the postgres user (PostgreSQL refuses to run as root) on a
# temporary directory and a free port of 127.0.0.1, reachable through TCP
# on 127.0.0.1 and a socket in that directory only. Trust authentication
# is safe there: nothing else listens on the port and the directory is the
# postgres user's.
#
# An existing PULSEGRID_TEST_PG is used as it is (a developer's own
# server): nothing is installed or started.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ -n "${PULSEGRID_TEST_PG:-}" ]; then
  echo "with-postgres: using PULSEGRID_TEST_PG from the environment"
  exec "$@"
fi

find_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}
bin=$(find_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "with-postgres: installing Debian postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  bin=$(find_bin)
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "with-postgres: no initdb under /usr/lib/postgresql/*/bin after installing postgresql" >&2
  exit 1
fi
# Run as the postgres user when root (CI, a fresh Debian machine); as
# oneself otherwise.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
  as_pg=(runuser -u postgres --)
fi

tmp=$(mktemp -d /tmp/pulsegrid-pg.XXXXXX)
chmod 700 "$tmp"
[ "${#as_pg[@]}" -eq 0 ] || chown postgres "$tmp"
started=""
cleanup() {
  if [ -n "$started" ]; then
    "${as_pg[@]}" "$bin/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$bin/initdb" -D "$tmp/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 || {
  cat "$tmp/initdb.log" >&2
  exit 1
}
# A free port: one nothing answers on, and that the server could bind
# (another process may take it between the two: then try another).
# Small and fast for tests: no fsync (a crash loses only the test server).
for try in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    continue
  fi
  if "${as_pg[@]}" "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
    -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "with-postgres: PostgreSQL did not start; its log:" >&2
  cat "$tmp/server.log" >&2
  exit 1
fi
export PULSEGRID_TEST_PG="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-postgres: $("$bin/postgres" --version) on 127.0.0.1:$port (PULSEGRID_TEST_PG), stopped when the command ends"
set +e
"$@"
rc=$?
set -e
exit $rc
