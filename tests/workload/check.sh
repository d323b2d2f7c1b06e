#!/usr/bin/env bash
# tests/workload/check.sh — proves that tests/workload/oltp.sql runs clean: starts a throwaway
# source cluster, loads the dispatch example (source.sql + sample-data.sql, warts=0), runs the
# workload with pgbench, then the plain-SQL variant (oltp-plain.sql), and fails unless pgbench
# reports zero failed transactions and no aborted client, psql succeeds, the workload really
# created and purged orders, and tests/workload/check-source.sql finds no row the target would
# refuse. Cleans up after itself, also on failure or Ctrl-C.
#
# Usage: tests/workload/check.sh [--seconds N (20)] [--scale N (1)] [--clients N (2)]
#                                [--plain-rounds N (300)]
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=deploy/lib/cluster.sh
source "$ROOT/deploy/lib/cluster.sh"
EXAMPLE=$ROOT/deploy/examples/dispatch

secs=20 scale=1 clients=2 plain_rounds=300
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) secs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --plain-rounds) plain_rounds=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Named like the test clusters, so deploy/reap-test-clusters.sh also collects a leaked one.
work=$(mktemp -d "${TMPDIR:-/tmp}/pgmorph-test-workload-XXXXXX")
cleanup() {
  cluster_stop "$work" immediate
  rm -rf "$work"
}
trap cleanup EXIT

cluster_init "$work" 1
port=$(cluster_start "$work")
admin=$(conninfo "$port" postgres)
src=$(conninfo "$port" legacy)
psql_run "$admin" -c 'CREATE DATABASE legacy'
psql_run "$src" -f "$EXAMPLE/source.sql"
psql_run "$src" -v scale="$scale" -v warts=0 -f "$EXAMPLE/sample-data.sql" >/dev/null

echo "running the workload: $clients clients, $secs s, scale $scale"
set +e
"$PGBIN/pgbench" -n -c "$clients" -T "$secs" -D scale="$scale" \
  -f "$ROOT/tests/workload/oltp.sql" "$src" >"$work/pgbench.out" 2>&1
rc=$?
set -e
grep -E '^(number of (transactions actually processed|failed transactions)|tps)' "$work/pgbench.out" || true

fail=0
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.out")
if [[ $rc -ne 0 || -z $processed || $processed -eq 0 || $failed != 0 ]] ||
  grep -q 'aborted' "$work/pgbench.out"; then
  echo "FAIL: pgbench exit $rc, processed '${processed}', failed '${failed}':" >&2
  cat "$work/pgbench.out" >&2
  fail=1
fi

echo "running the plain-SQL variant: $plain_rounds operations"
if ! psql_run "$src" -v scale="$scale" -v rounds="$plain_rounds" \
  -f "$ROOT/tests/workload/oltp-plain.sql" >"$work/plain.out" 2>&1; then
  echo "FAIL: oltp-plain.sql:" >&2
  cat "$work/plain.out" >&2
  fail=1
fi

base=$((1000 * scale))
created=$(psql_value "$src" "SELECT count(*) FROM dispatch_instruction WHERE id > $base")
purged=$(psql_value "$src" "SELECT coalesce(max(id), $base) - $base - count(*) FROM dispatch_instruction WHERE id > $base")
echo "orders created by the workload and still there: $created; purged: $purged"
if [[ $created -eq 0 || $purged -eq 0 ]]; then
  echo "FAIL: the run should both create and purge orders" >&2
  fail=1
fi

# Read into a variable first: set -e does not see a failure inside < <(...).
checks=$("$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v base_instructions="$base" \
  -f "$ROOT/tests/workload/check-source.sql" -d "$src")
while IFS='|' read -r rule count; do
  [[ -n $rule ]] || continue
  if [[ $count != 0 ]]; then
    echo "FAIL: $rule: $count" >&2
    fail=1
  fi
done <<<"$checks"

if [[ $fail -ne 0 ]]; then
  exit 1
fi
echo "OK: the workload ran clean"
