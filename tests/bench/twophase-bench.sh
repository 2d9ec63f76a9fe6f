#!/usr/bin/env bash
# twophase-bench.sh: the design for one large file over several connections
# (README, "Beyond one server"), exercised in SQL on one server with
# max_prepared_transactions set: the same rows (BENCH_PARTS parts of
# BENCH_RECORDS users records each) loaded
#   one:      over one connection, one transaction, COPY part after part;
#   parallel: over one connection per part at once, each committing alone
#             (fast, but a failure leaves some parts in);
#   2pc:      over one connection per part at once, each PREPARE
#             TRANSACTION, then COMMIT PREPARED each (all or nothing).
# Prints the median seconds of BENCH_RUNS runs and each ratio to "one".
set -euo pipefail
cd "$(dirname "$0")/../.."

parts=${BENCH_PARTS:-2}
records=${BENCH_RECORDS:-500000}
runs=${BENCH_RUNS:-3}
dir=${BENCH_DIR:-bench-data}
. tests/bench/parts.sh
bench_parts part "$parts" "$records"
bench_server 2pc
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" "$@"; }
psql -c "ALTER SYSTEM SET max_prepared_transactions = 16" -c "ALTER SYSTEM SET autovacuum = off" \
  -c "ALTER SYSTEM SET max_wal_size = '20GB'" >/dev/null
tests/pg-harness stop "$srv" >/dev/null
tests/pg-harness start "$srv" >/dev/null
[ "$(psql -At -c 'SHOW max_prepared_transactions')" = 16 ]

fresh() {
  psql -c "DROP TABLE IF EXISTS public.users" -f schemas/users.sql \
    -c "ALTER TABLE public.users ALTER status DROP NOT NULL" -c "CHECKPOINT" >/dev/null
}
copy_sql() { printf "\\\\copy public.users FROM '%s' WITH (FORMAT csv, HEADER true)\n" "$1"; }
one() {
  { echo "BEGIN;"; for f in "${list[@]}"; do copy_sql "$f"; done; echo "COMMIT;"; } | psql
}
parallel() {   # $1: 2pc or plain
  local k=0 pids=()
  for f in "${list[@]}"; do
    k=$((k + 1))
    if [ "$1" = 2pc ]; then
      { echo "BEGIN;"; copy_sql "$f"; echo "PREPARE TRANSACTION 'csvstage-bench-$k';"; } | psql &
    else
      { echo "BEGIN;"; copy_sql "$f"; echo "COMMIT;"; } | psql &
    fi
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  if [ "$1" = 2pc ]; then
    for ((k = 1; k <= parts; k++)); do psql -c "COMMIT PREPARED 'csvstage-bench-$k'"; done
  fi
}
: >"$srv/times"
for ((r = 1; r <= runs; r++)); do
  for c in one parallel 2pc; do
    fresh
    start=$(date +%s.%N)
    case $c in one) one ;; parallel) parallel plain ;; 2pc) parallel 2pc ;; esac
    end=$(date +%s.%N)
    n=$(psql -At -c "SELECT count(*) FROM public.users")
    [ "$n" = $((parts * records)) ] || { echo "twophase-bench: $c loaded $n rows" >&2; exit 1; }
    echo "$c $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')" >>"$srv/times"
  done
done
echo "PostgreSQL $(psql -At -c 'SHOW server_version'), $parts parts of $records records, $(nproc) cores, median of $runs run(s)"
base=$(awk '$1 == "one" { print $2 }' "$srv/times" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
for c in one parallel 2pc; do
  awk -v c="$c" '$1 == c { print $2 }' "$srv/times" | sort -n |
    awk -v c="$c" -v base="$base" '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "%-9s %7.2f s  %5.2fx\n", c, m, m / base }'
done
