# shellcheck shell=bash
# shellcheck disable=SC2034  # globals set here are read by the scripts that source this file
# tests/bench/lib.sh — shared plumbing of the benchmark scripts (sourced, not run).
#
# Owns the benchmark's work directory and everything started in it: throwaway clusters
# (deploy/lib/cluster.sh) and background processes registered with bench_track_pid. One EXIT
# trap (installed by bench_init) stops them all and removes the directory, also on failure or
# Ctrl-C. Functions that must register something set global variables instead of printing,
# because $(...) would run them in a subshell whose registrations are lost.
#
# Conventions: times are seconds with nanoseconds (date +%s.%N), arithmetic on them is done by
# awk; every SQL value handed to psql is a -v variable or a literal the script itself computed
# (LSNs and counts read back from the server), never user input.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../deploy/lib/cluster.sh
source "$BENCH_ROOT/deploy/lib/cluster.sh"
EXAMPLE=$BENCH_ROOT/deploy/examples/dispatch
WORKLOAD=$BENCH_ROOT/tests/workload/oltp.sql

# The dispatch source tables, parents first (the order sample-data.sql loads them in).
DISPATCH_TABLES=(dispatch_office dispatch_user dispatch_doctor dispatch_patient dispatch_jaw
  dispatch_instruction dispatch_file dispatch_notification dispatch_payment dispatch_state)

BENCH_WORK=
BENCH_CLUSTERS=()
BENCH_PIDS=()

# bench_init NAME: creates the work directory and installs the cleanup trap.
bench_init() {
  BENCH_WORK=$(mktemp -d "/tmp/pgmorph-bench-$1-XXXXXX")
  # The clusters below it run as the postgres user, which must be able to reach them.
  chmod 755 "$BENCH_WORK"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local rc=$? pid dir
  for pid in "${BENCH_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for dir in "${BENCH_CLUSTERS[@]}"; do
    cluster_stop "$dir" immediate
  done
  if [[ -n ${BENCH_KEEP:-} ]]; then
    echo "BENCH_KEEP is set: left $BENCH_WORK (logs, stopped clusters) for inspection" >&2
  elif [[ -n $BENCH_WORK ]]; then
    rm -rf "$BENCH_WORK"
  fi
  exit "$rc"
}

bench_track_pid() { BENCH_PIDS+=("$1"); }

die() {
  echo "FAIL: $*" >&2
  exit 1
}

note() { echo "[$(date +%H:%M:%S)] $*"; }

# bench_cluster NAME LOGICAL SETTING...: initdb + start a cluster in $BENCH_WORK/NAME with the
# extra postgresql.conf lines given; sets PORT (and registers the cluster for cleanup).
bench_cluster() {
  local name=$1 logical=$2 dir
  shift 2
  dir=$BENCH_WORK/$name
  mkdir -p "$dir"
  BENCH_CLUSTERS+=("$dir")
  cluster_init "$dir" "$logical" || die "initdb of the $name cluster failed"
  if [[ $# -gt 0 ]]; then
    printf '%s\n' "$@" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
  fi
  PORT=$(cluster_start "$dir") || die "the $name cluster did not start"
}

# The PostgreSQL settings every benchmark cluster shares, so that the two targets (pgmorph's
# and the built-in subscriber's) run with exactly the same configuration.
BENCH_PG_SETTINGS=(
  "timezone = 'UTC'"
  "max_wal_size = 4GB"
  "checkpoint_timeout = 30min"
  "max_connections = 60"
)
# BENCH_PG_EXTRA: more postgresql.conf lines for every cluster of a run (one per line), e.g.
# BENCH_PG_EXTRA='shared_buffers = 1GB'. Both targets get them, so a comparison stays fair.
if [[ -n ${BENCH_PG_EXTRA:-} ]]; then
  mapfile -t _bench_pg_extra <<<"$BENCH_PG_EXTRA"
  BENCH_PG_SETTINGS+=("${_bench_pg_extra[@]}")
  unset _bench_pg_extra
fi

# Makes sure the pgmorph binary exists; sets PGMORPH_BIN to an absolute path.
require_pgmorph() {
  PGMORPH_BIN=${PGMORPH_BIN:-$BENCH_ROOT/build/pgmorph}
  [[ $PGMORPH_BIN == /* ]] || PGMORPH_BIN=$PWD/$PGMORPH_BIN
  [[ -x $PGMORPH_BIN ]] ||
    die "no pgmorph binary at $PGMORPH_BIN: build it first (cmake -S . -B build && cmake --build build --target pgmorph) or set PGMORPH_BIN"
  local cmd
  for cmd in "$@"; do
    "$PGMORPH_BIN" "$cmd" --help >/dev/null 2>&1 ||
      die "$PGMORPH_BIN has no '$cmd' command yet (rebuild from an up-to-date checkout)"
  done
}

# write_config SOURCE_CONNINFO TARGET_CONNINFO OUT: the example's mapping.yaml with only the
# connection lines, pipeline, slot and state schema replaced — the benchmark measures the
# mapping users see. Fails if a line to replace is not there exactly once.
write_config() {
  local src=$1 tgt=$2 out=$3
  awk -v src="$src" -v tgt="$tgt" '
    function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    /^[A-Za-z_]/ { section = $0; sub(/:.*/, "", section) }
    /^pipeline:/ { print "pipeline: bench"; n["pipeline"]++; next }
    section == "source" && /^  conninfo:/ { print "  conninfo: " q(src); n["src"]++; next }
    section == "source" && /^  slot:/ { print "  slot: pgmorph_bench"; n["slot"]++; next }
    section == "target" && /^  conninfo:/ { print "  conninfo: " q(tgt); n["tgt"]++; next }
    section == "target" && /^  state_schema:/ { print "  state_schema: pgmorph"; n["state"]++; next }
    { print }
    END {
      split("pipeline src slot tgt state", keys, " ")
      for (i in keys) if (n[keys[i]] != 1) { print "line " keys[i] " replaced " n[keys[i]] + 0 " times" > "/dev/stderr"; exit 1 }
    }' "$EXAMPLE/mapping.yaml" >"$out" ||
    die "could not derive a config from $EXAMPLE/mapping.yaml (its shape changed? update tests/bench/lib.sh)"
}

# Current time, seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# calc EXPR: floating-point arithmetic (awk), printed with the given format (default %.2f).
calc() { awk "BEGIN { printf \"${2:-%.2f}\", $1 }"; }

# The 1-minute load average, to print next to each figure.
load_now() { cut -d' ' -f1-3 /proc/loadavg; }

# wait_for TIMEOUT_S DESCRIPTION CONNINFO SQL [NAME=VALUE...]: returns once SQL (one boolean)
# is true. The loop runs inside the server (one session, 10 ms naps) rather than as one psql per
# poll: on two cores, forking clients would steal CPU from what is being measured. Values reach
# SQL as settings, never spliced into it: NAME=VALUE becomes current_setting('bench.NAME').
wait_for() {
  local timeout=$1 what=$2 conn=$3 sql=$4 pair settings="" vars=()
  shift 4
  for pair in "$@"; do
    vars+=(-v "b_${pair%%=*}=${pair#*=}")
    settings+="SELECT set_config('bench.${pair%%=*}', :'b_${pair%%=*}', false);"$'\n'
  done
  psql_run "$conn" "${vars[@]}" -v query="$sql" -v timeout="$timeout" >/dev/null <<SQL ||
$settings
SELECT set_config('bench.query', :'query', false), set_config('bench.timeout', :'timeout', false);
DO \$\$
DECLARE
  deadline timestamptz := clock_timestamp()
                          + make_interval(secs => current_setting('bench.timeout')::float8);
  ok boolean;
BEGIN
  LOOP
    EXECUTE current_setting('bench.query') INTO ok;
    EXIT WHEN ok;
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'timed out';
    END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
END \$\$;
SQL
    die "timed out after ${timeout}s waiting for $what"
}

# Sum of the dispatch tables' inserted+updated+deleted row counts on the source. Statistics of
# a backend reach the shared counters at its exit at the latest, so call this after the clients
# that made the changes have disconnected.
source_row_changes() {
  psql_value "$1" "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)
                     FROM pg_stat_user_tables WHERE relname LIKE 'dispatch\_%'"
}

# Rows in the dispatch tables of a database (source or built-in subscriber).
dispatch_rows() {
  local sql="SELECT 0" t
  for t in "${DISPATCH_TABLES[@]}"; do sql+=" + (SELECT count(*) FROM $t)"; done
  psql_value "$1" "$sql"
}

# Upsert target table of the example for each source table (dispatch_state feeds two).
declare -A TARGET_OF=(
  [dispatch_office]=offices [dispatch_user]=profiles [dispatch_doctor]=doctors
  [dispatch_patient]=patients [dispatch_jaw]=jaws [dispatch_instruction]=orders
  [dispatch_file]=case_files [dispatch_notification]=system_messages
  [dispatch_payment]=payments [dispatch_state]="case_states order_states"
)

# check_counts SOURCE REPLICA TARGET: with clean data (warts=0) nothing is parked or filtered,
# so the built-in subscriber must hold as many rows as the source in every table, and pgmorph's
# target as many as the source in each table's upsert target, less TARGET_SHORT[source table]
# (rows a script made pgmorph park on purpose). A benchmark of a run that lost rows would be
# meaningless: fails listing every difference. REPLICA or TARGET may be "".
declare -A TARGET_SHORT=()
check_counts() {
  local src=$1 rep=$2 tgt=$3 t n m sql bad=0
  for t in "${DISPATCH_TABLES[@]}"; do
    n=$(psql_value "$src" "SELECT count(*) FROM $t")
    if [[ -n $rep ]]; then
      m=$(psql_value "$rep" "SELECT count(*) FROM $t")
      [[ $m == "$n" ]] || { echo "built-in subscriber: $t has $m rows, source $n" >&2; bad=1; }
    fi
    if [[ -n $tgt ]]; then
      sql="SELECT 0"
      for m in ${TARGET_OF[$t]}; do sql+=" + (SELECT count(*) FROM $m)"; done
      m=$(psql_value "$tgt" "$sql")
      n=$((n - ${TARGET_SHORT[$t]:-0}))
      [[ $m == "$n" ]] || { echo "pgmorph target: ${TARGET_OF[$t]} has $m rows, expected $n (source $t less the rows parked on purpose)" >&2; bad=1; }
    fi
  done
  [[ $bad -eq 0 ]] || die "row counts differ (see above): the figures of this run are not valid"
}

# load_dispatch_schema CONNINFO: source.sql. load_dispatch_data CONNINFO SCALE: sample-data.sql,
# clean (warts=0), then VACUUM ANALYZE.
load_dispatch_schema() { psql_run "$1" -f "$EXAMPLE/source.sql" >/dev/null; }
load_dispatch_data() {
  psql_run "$1" -v scale="$2" -v warts=0 -f "$EXAMPLE/sample-data.sql" >/dev/null
  psql_run "$1" -c 'VACUUM ANALYZE' >/dev/null
}

# index_foreign_keys CONNINFO: an index on the referencing columns of every foreign key of the
# public schema that has none starting with them — what a DBA adds so that deleting or
# re-pointing a parent does not scan its children (neither example schema has them).
index_foreign_keys() {
  psql_run "$1" >/dev/null <<'SQL'
DO $$
DECLARE
  fk record;
BEGIN
  FOR fk IN
    SELECT c.conrelid::regclass AS tbl, c.conkey,
           string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) AS cols
      FROM pg_constraint c
      CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
     WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
     GROUP BY c.oid, c.conrelid, c.conkey
  LOOP
    IF NOT EXISTS (SELECT FROM pg_index i
                    WHERE i.indrelid = fk.tbl
                      AND (i.indkey::int2[])[0:cardinality(fk.conkey) - 1] = fk.conkey) THEN
      EXECUTE format('CREATE INDEX ON %s (%s)', fk.tbl, fk.cols);
    END IF;
  END LOOP;
END $$;
SQL
}

# run_measured LOG CMD...: runs CMD (stdout and stderr to LOG) and waits for it; sets RUN_RC, its
# exit status, RUN_CPU_S, the CPU time (user + system) it used, and PEAK_RSS_MB, its peak resident
# set. CPU time well below the wall time means the process spent its time waiting (on a database). The peak is the kernel's high-water mark
# (VmHWM in /proc/PID/status), read every 100 ms by a sampler beside it, so growth in the last
# 100 ms of its life could be missed; /usr/bin/time would need a package the project does not
# install. RUN_START and RUN_END (epoch seconds) are taken right before the start and right
# after the exit: the caller's clock must be these, not its own around this function, which
# also waits for the sampler's last `sleep 0.1` (that wait once added up to 0.1 s to pgmorph's
# wall time and nothing to the built-in's).
run_measured() {
  local log=$1 pid sampler hwm_file
  shift
  hwm_file=$(mktemp "$BENCH_WORK/hwm-XXXXXX")
  local cpu_before
  children_cpu >"$BENCH_WORK/cpu-before"
  cpu_before=$(<"$BENCH_WORK/cpu-before")
  RUN_START=$(now)
  "$@" >"$log" 2>&1 &
  pid=$!
  bench_track_pid "$pid"
  (
    while :; do
      state="" hwm=""
      while read -r key val _; do
        case $key in
          State:) state=$val ;;
          VmHWM:) hwm=$val ;;
        esac
      done 2>/dev/null <"/proc/$pid/status" || break
      # A zombie has no memory left to report: keep the last value seen alive.
      [[ $state == Z ]] && break
      # A process that is not yet a zombie can still show no VmHWM line: while its memory map is
      # replaced or torn down (exec, exit). Seen in 87 of ~1,600 reads of `pgmorph --help`.
      # Stopping there left no figure at all ("RSS 0.0 MB", 2026-12-04, a snapshot run), so
      # such a read is skipped and the sampler goes on.
      # Written aside and renamed: a sampler stopped mid-write leaves the previous figure, not an
      # empty file.
      [[ -n $hwm ]] && { echo "$hwm" >"$hwm_file.new" && mv -f "$hwm_file.new" "$hwm_file"; }
      sleep 0.1
    done
  ) &
  sampler=$!
  bench_track_pid "$sampler"
  set +e
  wait "$pid"
  RUN_RC=$?
  RUN_END=$(now)
  set -e
  # Read before waiting for the sampler, whose own children (sleep) would be added too.
  children_cpu >"$BENCH_WORK/cpu-after"
  RUN_CPU_S=$(calc "$(<"$BENCH_WORK/cpu-after") - $cpu_before")
  wait "$sampler" 2>/dev/null || true
  local kb
  kb=$(cat "$hwm_file" 2>/dev/null || true)
  PEAK_RSS_MB=$(calc "${kb:-0} / 1024" %.1f)
}

# cluster_cpu NAME: CPU seconds (user + system) used so far by the cluster NAME: its postmaster
# with every child it has reaped (cutime/cstime), plus its live children. Taken before and after
# a measurement, it says which server did the work (decoding on the source, applying on the
# target) and, beside the consumer's own CPU time, where the wall time went.
cluster_cpu() {
  local pm
  pm=$(head -n 1 "$BENCH_WORK/$1/data/postmaster.pid")
  # /proc/PID/stat: fields 14-17 are utime, stime, cutime, cstime in clock ticks; comm (field 2)
  # is "(postgres)", without spaces.
  { cat "/proc/$pm/stat"; for c in $(pgrep -P "$pm"); do cat "/proc/$c/stat" 2>/dev/null || true; done; } |
    awk -v pm="$pm" -v hz="$(getconf CLK_TCK)" '
      { n += $14 + $15; if ($1 == pm) n += $16 + $17 }
      END { printf "%.2f", n / hz }'
}

# CPU seconds (user + system) of every child this shell has waited for so far (bash `times`,
# written to a file: in a pipe or $(...) it would run in a fresh subshell that has no children).
children_cpu() {
  times >"$BENCH_WORK/times"
  awk 'NR == 2 {
    n = 0
    for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); n += p[1] * 60 + p[2] }
    printf "%.3f", n
  }' "$BENCH_WORK/times"
}

# wait_slot_confirmed CONNINFO SLOT LSN TIMEOUT_S: returns once the slot's confirmed_flush_lsn
# on the source has reached LSN.
wait_slot_confirmed() {
  wait_for "$4" "slot $2 to confirm $3" "$1" \
    "SELECT coalesce((SELECT confirmed_flush_lsn FROM pg_replication_slots
                       WHERE slot_name = current_setting('bench.slot')), '0/0')
            >= current_setting('bench.lsn')::pg_lsn" slot="$2" lsn="$3"
}

# install_watch CONNINFO: creates bench_watch(query, timeout_s) and its stop flag in the database.
# bench_watch runs `query` every 20 ms inside the server until stop_watch raises the flag, and
# returns the epoch (seconds) of the last moment the query's value changed. Used to find when a
# consumer really committed its last transaction (its progress row or its replication origin
# stopped moving), apart from when it got around to reporting it.
install_watch() {
  psql_run "$1" >/dev/null <<'SQL'
CREATE TABLE IF NOT EXISTS bench_watch_stop (stop boolean);
CREATE OR REPLACE FUNCTION bench_watch(query text, timeout_s float8)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  last text;
  cur text;
  changed timestamptz;
  deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
BEGIN
  EXECUTE query INTO last;
  LOOP
    EXECUTE query INTO cur;
    IF cur IS DISTINCT FROM last THEN
      last := cur;
      changed := clock_timestamp();
    END IF;
    EXIT WHEN EXISTS (SELECT FROM bench_watch_stop);
    IF clock_timestamp() > deadline THEN
      RAISE EXCEPTION 'bench_watch: not stopped within % s', timeout_s;
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  IF changed IS NULL THEN
    RAISE EXCEPTION 'bench_watch: % never changed', query;
  END IF;
  RETURN extract(epoch FROM changed);
END $$;
SQL
}

# start_watch CONNINFO QUERY OUTFILE: runs bench_watch in the background; sets WATCH_PID. The
# epoch lands in OUTFILE once stop_watch is called.
start_watch() {
  psql_run "$1" -c 'TRUNCATE bench_watch_stop' >/dev/null
  # psql itself in the background (not a function, whose subshell would get the pid).
  "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -v query="$2" -o "$3" <<'SQL' &
SELECT bench_watch(:'query', 7200);
SQL
  WATCH_PID=$!
  bench_track_pid "$WATCH_PID"
}

# stop_watch CONNINFO DESCRIPTION: ends the watch started on CONNINFO and waits for its answer.
stop_watch() {
  psql_run "$1" -c 'INSERT INTO bench_watch_stop VALUES (true)' >/dev/null
  wait "$WATCH_PID" || die "could not tell when $2 committed its last transaction"
}

# fmt_int N: 1234567 -> 1,234,567
fmt_int() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }

# verdict VALUE OP GOAL: "MET" or "MISSED" for VALUE OP GOAL (OP is >= or <).
verdict() { awk "BEGIN { print ($1 $2 $3) ? \"MET\" : \"MISSED\" }"; }

# --profile support: pg_stat_statements on pgmorph's target says which statements its time went
# to (the built-in apply and copy run no SQL statements, so there is nothing to compare with).
PROFILE_SETTINGS=("shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.track = all"
  "pg_stat_statements.track_utility = on")
profile_reset() {
  psql_run "$1" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
    -c 'SELECT pg_stat_statements_reset()' >/dev/null
}
profile_report() {
  echo "pgmorph's target, top statements by total execution time (pg_stat_statements):"
  "$PGBIN/psql" -X -q -d "$1" -P pager=off -c "
    SELECT calls, round(total_exec_time)::bigint AS total_ms,
           round((1000 * total_exec_time / greatest(calls, 1))::numeric, 1) AS mean_us, rows,
           left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
      FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND query !~ 'bench_watch|pg_sleep|pg_stat_statements'
     ORDER BY total_exec_time DESC LIMIT 12"
}

# --- several runs: per-run figures and their ranges -----------------------------------------
# Each measurement appends one line "KEY=VALUE ..." to $BENCH_WORK/runs; figures_range KEY
# prints the min–max of KEY over the lines that have it (FILTER: an awk condition on the line).

# record_run KEY=VALUE...: one line of figures.
record_run() { echo "$*" >>"$BENCH_WORK/runs"; }

# per100k CPU_S UNITS: CPU seconds per 100,000 units (changes or rows).
per100k() { calc "$1 * 100000 / $2" %.2f; }

# figure_range KEY [REGEX]: "min–max" of KEY over the recorded lines matching REGEX.
figure_range() {
  awk -v key="$1" -v re="${2:-.}" '
    $0 ~ re { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) {
      v = kv[2] + 0; if (!n++ || v < lo) lo = v; if (n == 1 || v > hi) hi = v } } }
    END { if (n == 0) print "-"; else if (lo == hi) printf "%s (%d run%s)\n", lo, n, (n > 1 ? "s" : "");
          else printf "%s–%s (%d runs)\n", lo, hi, n }' "$BENCH_WORK/runs"
}

# report_runs UNIT UNITS CORES [single]: (a line's own units=N, if any, instead of UNITS) prints every recorded run (built-in: s, src, rep;
# pgmorph: s, src, tgt, pgm, with their run's built-in) with its CPU seconds per 100k UNITs, and
# adds to each pgmorph line the figures derived from it (ratio to the built-in of its run, floor,
# wall/floor, per-100k CPU) so that figure_range reads them too. The floor is pgmorph's CPU
# seconds (source + target + pgmorph) over the cores; with `single`, also at least the target's
# and pgmorph's own CPU seconds (apply: one target session, one pgmorph thread, each of which
# cannot go faster than its own CPU time); with `sessions`, at least pgmorph's own CPU seconds (one
# thread, several target sessions).
report_runs() {
  local unit=$1 all_units=$2 cores=$3 mode=${4:-} line kv run who s src rep tgt pgm rss load j b_s floor
  local units
  local out=$BENCH_WORK/runs.derived
  : >"$out"
  while read -r line; do
    run="" who="" s="" src="" rep="" tgt="" pgm="" rss="" load="" j="" units=$all_units
    for kv in $line; do
      case ${kv%%=*} in
        run) run=${kv#*=} ;; who) who=${kv#*=} ;; s) s=${kv#*=} ;; src) src=${kv#*=} ;;
        rep) rep=${kv#*=} ;; tgt) tgt=${kv#*=} ;; pgm) pgm=${kv#*=} ;; rss) rss=${kv#*=} ;;
        load) load=${kv#*=} ;; jobs) j=${kv#*=} ;; units) units=${kv#*=} ;;
      esac
    done
    if [[ $who == builtin ]]; then
      # The built-in's floor: its CPU over the cores; in apply (a mode given) also at least its one
      # apply worker's CPU (the replica's, nearly all of it that worker's).
      floor=$(calc "($src + $rep) / $cores" %.3f)
      if [[ -n $mode ]]; then
        floor=$(awk -v a="$floor" -v b="$rep" 'BEGIN { m = a; if (b > m) m = b; printf "%.3f", m }')
      fi
      printf 'run %s built-in:  %8.3f s %10s %s/s | CPU s: source %s, replica %s | per 100k %s: source %s, replica %s | floor %s s, wall/floor %s | load %s\n' \
        "$run" "$s" "$(fmt_int "$(calc "$units / $s" %.0f)")" "$unit" "$src" "$rep" "$unit" \
        "$(per100k "$src" "$units")" "$(per100k "$rep" "$units")" "$floor" "$(calc "$s / $floor")" "$load"
      echo "$line src100k=$(per100k "$src" "$units") rep100k=$(per100k "$rep" "$units")" \
        "floor=$floor wallfloor=$(calc "$s / $floor")" >>"$out"
      continue
    fi
    b_s=$(awk -v r="run=$run" '$1 == r && $2 == "who=builtin" { for (i = 3; i <= NF; i++) if ($i ~ /^s=/) { sub(/^s=/, "", $i); print $i } }' "$BENCH_WORK/runs")
    floor=$(calc "($src + $tgt + $pgm) / $cores" %.3f)
    if [[ $mode == single ]]; then
      floor=$(awk -v a="$floor" -v b="$tgt" -v c="$pgm" 'BEGIN { m = a; if (b > m) m = b; if (c > m) m = c; printf "%.3f", m }')
    elif [[ $mode == sessions ]]; then
      floor=$(awk -v a="$floor" -v c="$pgm" 'BEGIN { m = a; if (c > m) m = c; printf "%.3f", m }')
    fi
    # The built-in's floor of the same run against pgmorph's: the ratio both would reach at
    # their floors (what is left when neither waits).
    b_floor=$(awk -v r="run=$run" -v c="$cores" -v mode="$mode" '$1 == r && $2 == "who=builtin" {
      for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      m = (v["src"] + v["rep"]) / c; if (mode != "" && v["rep"] > m) m = v["rep"]; printf "%.3f", m }' "$BENCH_WORK/runs")
    printf 'run %s pgmorph%s: %8.3f s %10s %s/s | CPU s: source %s, target %s, pgmorph %s | per 100k %s: source %s, target %s, pgmorph %s | floor %s s, wall/floor %s | ratio to built-in %s, at both floors %s | RSS %s MB | load %s\n' \
      "$run" "${j:+ --jobs $j}" "$s" "$(fmt_int "$(calc "$units / $s" %.0f)")" "$unit" "$src" "$tgt" "$pgm" "$unit" \
      "$(per100k "$src" "$units")" "$(per100k "$tgt" "$units")" "$(per100k "$pgm" "$units")" \
      "$floor" "$(calc "$s / $floor")" "$(calc "$b_s / $s")" "$(calc "$b_floor / $floor")" "$rss" "$load"
    echo "$line ratio=$(calc "$b_s / $s") floorratio=$(calc "$b_floor / $floor") floor=$floor wallfloor=$(calc "$s / $floor")" \
      "src100k=$(per100k "$src" "$units") tgt100k=$(per100k "$tgt" "$units") pgm100k=$(per100k "$pgm" "$units")" >>"$out"
  done <"$BENCH_WORK/runs"
  mv "$out" "$BENCH_WORK/runs"
}
