#!/usr/bin/env bash
# jobs-bench.sh: csvstage --jobs 1, 2 and 4 on the same files, next to a
# bare COPY of each file one after the other (psql \copy), in one run on
# a server of its own (tests/pg-harness). Prints files/s, MB/s, the ratio
# to the COPYs, and where the time went: the client's CPU (user + sys) and
# the server's (its processes' CPU, from /proc), per case.
#
#   BENCH_FILES=8 BENCH_RECORDS=250000 BENCH_RUNS=3 tests/bench/jobs-bench.sh
#
# Each case loads every file into a new, empty users table after a
# CHECKPOINT; the median of BENCH_RUNS runs is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."

files=${BENCH_FILES:-8}
records=${BENCH_RECORDS:-250000}
runs=${BENCH_RUNS:-3}
dir=${BENCH_DIR:-bench-data}
csvstage=./csvstage
[ -x "$csvstage" ] || { echo "jobs-bench: build first (./bootstrap)" >&2; exit 1; }
. tests/bench/parts.sh
bench_parts jobs "$files" "$records"
mb=$(du -cm "${list[@]}" | tail -n 1 | cut -f1)
bench_server jobs
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" "$@"; }
psql -c "ALTER SYSTEM SET autovacuum = off" -c "ALTER SYSTEM SET max_wal_size = '20GB'" \
  -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" -c "SELECT pg_reload_conf()" >/dev/null

# A new, empty users table; for the COPYs, relaxed: the files leave one
# status in ten blank, for csvstage to fill in with the DEFAULT.
fresh() {
  psql -c "DROP TABLE IF EXISTS public.users" -f schemas/users.sql >/dev/null
  if [ "$1" = copy ]; then
    psql -c "ALTER TABLE public.users ALTER status DROP NOT NULL"
  fi
  psql -c "CHECKPOINT" >/dev/null
}
# The server's CPU ticks so far: the postmaster's, its live children's, and
# those of the children it has reaped (its cutime and cstime).
server_cpu() {
  local pm t p
  pm=$(head -n 1 "$srv/data/postmaster.pid" 2>/dev/null || pgrep -o -f "postgres.*$srv")
  t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
  for p in $(pgrep -P "$pm"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)

: >"$srv/times"
run_case() {   # LABEL CMD...
  local label=$1 before after
  shift
  fresh "$label"
  before=$(server_cpu)
  /usr/bin/time -f '%e %U %S' -o "$srv/time.out" "$@" >/dev/null 2>&1
  after=$(server_cpu)
  local n
  n=$(psql -At -c "SELECT count(*) FROM public.users")
  [ "$n" = $((files * records)) ] || { echo "jobs-bench: $label loaded $n rows" >&2; exit 1; }
  echo "$label $(cat "$srv/time.out") $(awk -v a="$after" -v b="$before" -v hz="$hz" 'BEGIN { printf "%.2f", (a - b) / hz }')" >>"$srv/times"
}
export BENCH_DSN=$dsn
copy_each='for f in "$@"; do psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DSN" -c "\\copy public.users FROM '"'"'$f'"'"' WITH (FORMAT csv, HEADER true)"; done'
for ((r = 1; r <= runs; r++)); do
  run_case copy bash -c "$copy_each" copy "${list[@]}"
  for j in 1 2 4; do
    run_case "jobs$j" "$csvstage" -q -d "$dsn" -t public.users -r "$srv/rej.csv" --jobs $j "${list[@]}"
  done
done

echo "PostgreSQL $(psql -At -c 'SHOW server_version'), $files files of $records records ($mb MB), $(nproc) cores, median of $runs run(s)"
printf '%-8s %8s %8s %7s %7s %12s %12s\n' case seconds files/s MB/s ratio "client cpu s" "server cpu s"
copy=$(awk '$1 == "copy" { print $2 }' "$srv/times" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
for c in copy jobs1 jobs2 jobs4; do
  awk -v c="$c" '$1 == c' "$srv/times" | sort -k2 -n |
    awk -v c="$c" -v files="$files" -v mb="$mb" -v copy="$copy" '
      { e[NR] = $2; u[NR] = $3 + $4; s[NR] = $5 }
      END { m = int((NR + 1) / 2)
            printf "%-8s %8.2f %8.2f %7.1f %6.2fx %12.2f %12.2f\n", c, e[m], files / e[m], mb / e[m],
                   e[m] / copy, u[m], s[m] }'
done
