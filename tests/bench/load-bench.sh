#!/usr/bin/env bash
# load-bench: csvstage against a bare COPY (and pgloader, when installed) on
# the same generated users file, into the same table, on the same
# throwaway server, in the same run.
#
#   tests/bench/load-bench.sh            (run by `make bench`)
#
# Environment:
#   BENCH_RECORDS        records per file (default 2000000)
#   BENCH_RUNS           runs of each case; the median is reported (default 1)
#   BENCH_DIR            where the generated files are kept (default bench-data)
#   BENCH_PGLOADER       0: skip pgloader even when it is installed
#   BENCH_PGLOADER_DIRTY_RECORDS
#                        pgloader reloads failed batches row by row, hours at
#                        2M records: its dirty run reads only the first this
#                        many records (default 100000); its ratio is per record
#   CSVSTAGE_PG_BINDIR   the server to run (see tests/pg-harness)
#   BENCH_CASES          the cases to run, space-separated (default: all):
#                        clean dirty gzip modes upsert dirty-more types stop european
#                        pgloader
#
# The baseline is `\copy users FROM FILE (FORMAT csv, HEADER)` of the clean
# file into schemas/users.sql with status's NOT NULL dropped (the clean file
# leaves one status in ten blank, for csvstage to fill in with the DEFAULT).
# Each case starts from a new empty table, after a CHECKPOINT; the truncate
# and replace cases from the table the clean file filled (their old rows).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)

records=${BENCH_RECORDS:-2000000}
runs=${BENCH_RUNS:-1}
dir=${BENCH_DIR:-bench-data}
pgl_records=${BENCH_PGLOADER_DIRTY_RECORDS:-100000}
csvstage=$top/csvstage
gen=$top/tests/bench/gen-users

die() { echo "load-bench: $*" >&2; exit 1; }
[ -x "$csvstage" ] && [ -x "$gen" ] || die "build first: make all tests/bench/gen-users"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
clean=$dir/users-$records.csv
dirty=$dir/users-$records-dirty.csv
[ -s "$clean" ] || "$gen" "$records" >"$clean"
[ -s "$clean.gz" ] || gzip -6 -c "$clean" >"$clean.gz"
[ -s "$dirty" ] || "$gen" --dirty "$records" >"$dirty"
cases=" ${BENCH_CASES:-clean dirty gzip modes upsert dirty-more types stop european pgloader} "
want() { [[ $cases == *" $1 "* ]]; }
# More dirt (the same five defect kinds), type errors only (what COPY's
# ON_ERROR ignore skips), and a file 57% bad (a vendor's new date format).
for pct in 10 50 100 57; do
  f=$dir/users-$records-dirty$pct.csv
  if { want dirty-more && [ $pct != 57 ]; } || { want stop && [ $pct = 57 ]; }; then
    [ -s "$f" ] || "$gen" --dirty-pct $pct "$records" >"$f"
  fi
done
types=$dir/users-$records-types10.csv
if want types; then [ -s "$types" ] || "$gen" --type-errors 10 "$records" >"$types"; fi
# The clean file as a European export writes it: semicolons, balance as
# 28.381,61, active as ja/nein, signup_at as 02.08.2013 23:25:16 (the same
# records, values, rows).
european=$dir/users-$records-european-dated.csv
if want european && [ ! -s "$european" ]; then
  python3 - "$clean" "$european.tmp" <<'PY'
import csv, sys
with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g, delimiter=";", lineterminator="\n")
    head = next(r)
    w.writerow(head)
    b, a, t = head.index("balance"), head.index("active"), head.index("signup_at")
    for row in r:
        whole, _, frac = row[b].partition(".")
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        row[b] = ".".join([whole] + groups) + ("," + frac if frac else "")
        row[a] = {"true": "ja", "false": "nein"}.get(row[a], row[a])
        d = row[t]   # 2013-08-02 23:25:16+00 -> 02.08.2013 23:25:16 (UTC)
        if d.endswith("+00"):
            row[t] = "%s.%s.%s %s" % (d[8:10], d[5:7], d[0:4], d[11:19])
        w.writerow(row)
PY
  mv "$european.tmp" "$european"
fi

srv=$(mktemp -d /tmp/csvstage-bench.XXXXXX)
chmod 0755 "$srv"
cleanup() { [ -n "${BENCH_KEEP:-}" ] && return; tests/pg-harness stop "$srv" >/dev/null 2>&1 || true; rm -rf "$srv"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tests/pg-harness start "$srv"
dsn=$(tests/pg-harness dsn "$srv")
# The same server settings for every case: no autovacuum (it would vacuum
# one case's table while the next case loads) and no checkpoint in the
# middle of a load (the WAL of a 2M-record load would trigger one at a
# varying point); each case starts after a CHECKPOINT.
command psql -X -q -d "$dsn" -c "ALTER SYSTEM SET autovacuum = off" \
  -c "ALTER SYSTEM SET max_wal_size = '20GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" \
  -c "SELECT pg_reload_conf()" >/dev/null
bindir=${CSVSTAGE_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" "$@"; }
server=$(psql -At -c "SHOW server_version")

# A new, empty users table; relaxed: status may be NULL (the baseline's).
fresh_table() {
  psql -c "DROP TABLE IF EXISTS public.users" -f schemas/users.sql
  if [ "${1:-}" = relaxed ]; then
    psql -c "ALTER TABLE public.users ALTER status DROP NOT NULL"
  fi
  psql -c "CHECKPOINT"
}

# time_cmd LABEL CMD...: runs CMD under /usr/bin/time; appends
# "LABEL elapsed user sys maxrss_kb status" to $srv/times.
time_cmd() {
  local label=$1 status=0
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$srv/time.out" "$@" >"$srv/cmd.out" 2>&1 || status=$?
  echo "$label $(tail -n 1 "$srv/time.out") $status" >>"$srv/times"
}

rows() { psql -At -c "SELECT count(*) FROM public.users"; }

pgloader_cmd() {   # FILE ROWS: a pgloader command file for the users table
  local sock=${srv}
  cat <<EOF
LOAD CSV FROM '$1' (id, first_name, last_name, email, status, signup_at,
                    balance, active, score, notes)
  INTO postgresql://postgres@unix:$sock:5432/postgres
  TARGET TABLE public.users
  WITH skip header = 1, fields optionally enclosed by '"',
       fields escaped by double-quote, fields terminated by ','$2;
EOF
}

use_pgloader=0
if [ "${BENCH_PGLOADER:-1}" != 0 ] && command -v pgloader >/dev/null 2>&1; then
  use_pgloader=1
fi

: >"$srv/times"
declare -A checks
for ((run = 1; run <= runs; run++)); do
  fresh_table relaxed
  time_cmd copy psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" -c "\\copy public.users FROM '$clean' WITH (FORMAT csv, HEADER true)"
  checks[copy]=$(rows)

  if want clean; then
    fresh_table
    time_cmd clean "$csvstage" -q -d "$dsn" -t public.users -r "$srv/clean.rejects.csv" "$clean"
    checks[clean]=$(rows)
  fi

  if want dirty; then
    fresh_table
    time_cmd dirty "$csvstage" -q -d "$dsn" -t public.users -r "$srv/dirty.rejects.csv" "$dirty"
    checks[dirty]=$(rows)
  fi

  if want gzip; then
    fresh_table
    time_cmd gzip "$csvstage" -q -d "$dsn" -t public.users -r "$srv/gzip.rejects.csv" "$clean.gz"
    checks[gzip]=$(rows)
  fi

  if want dirty-more; then
    for pct in 10 50 100; do
      fresh_table
      time_cmd "dirty$pct" "$csvstage" -q -d "$dsn" -t public.users \
        -r "$srv/dirty$pct.rejects.csv" "$dir/users-$records-dirty$pct.csv"
      checks[dirty$pct]=$(rows)
    done
  fi

  # Type errors only: csvstage (into the table as it is) against COPY's
  # own ON_ERROR ignore (PostgreSQL 17+; into the relaxed table, as the
  # baseline) of the same file: it skips them without saying which or why.
  # The European export: every value through the client's separators,
  # words and date format, still on the fast path.
  if want european; then
    fresh_table
    time_cmd european "$csvstage" -q -d "$dsn" -t public.users -r "$srv/european.rejects.csv" \
      --delimiter ";" --decimal , --thousands . --true ja --false nein \
      --format 'signup_at=DD.MM.YYYY HH24:MI:SS' --timezone UTC "$european"
    checks[european]=$(rows)
  fi

  if want types; then
    fresh_table
    time_cmd types10 "$csvstage" -q -d "$dsn" -t public.users -r "$srv/types.rejects.csv" "$types"
    checks[types10]=$(rows)
    if [ "$(psql -At -c "SHOW server_version_num")" -ge 170000 ]; then
      fresh_table relaxed
      time_cmd copy-ignore-types10 psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" \
        -c "\\copy public.users FROM '$types' WITH (FORMAT csv, HEADER true, ON_ERROR ignore)"
      checks[copy-ignore-types10]=$(rows)
    fi
  fi

  # A file 57% bad: settled whole, and stopped early by max_rejects (a
  # count, a share): exit 1, nothing in.
  if want stop; then
    f57=$dir/users-$records-dirty57.csv
    fresh_table
    time_cmd dirty57 "$csvstage" -q -d "$dsn" -t public.users -r "$srv/d57.rejects.csv" "$f57"
    for lim in 1000 1%; do
      fresh_table
      time_cmd "dirty57-max-$lim" "$csvstage" -q -d "$dsn" -t public.users --max-rejects "$lim" \
        -r "$srv/d57.rejects.csv" "$f57"
    done
  fi

  # The modes that empty the table: the clean file again into the table
  # the clean file filled (2M old rows), against the baseline's COPY into
  # an empty one.
  for mode in truncate replace; do
    want modes || continue
    fresh_table
    "$csvstage" -q -d "$dsn" -t public.users -r "$srv/fill.rejects.csv" "$clean"
    psql -c "CHECKPOINT"
    time_cmd "$mode" "$csvstage" -q -d "$dsn" -t public.users --mode "$mode" \
      -r "$srv/$mode.rejects.csv" "$clean"
    checks[$mode]=$(rows)
  done
  # replace's floor: the same DELETE and COPY by hand, in one transaction,
  # into the full table (readers see the old rows till COMMIT: each new
  # row's index entries meet the old row's of its key).
  if want modes; then
    fresh_table relaxed
    psql -c "\\copy public.users FROM '$clean' WITH (FORMAT csv, HEADER true)" -c "CHECKPOINT"
    time_cmd copy-delete psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" \
      -c "BEGIN" -c "DELETE FROM public.users" \
      -c "\\copy public.users FROM '$clean' WITH (FORMAT csv, HEADER true)" -c "COMMIT"
    checks[copy-delete]=$(rows)
  fi
  # What COPY FREEZE would give after a TRUNCATE in the same transaction
  # (csvstage's COPYs run in savepoints, where FREEZE is refused): a bare
  # TRUNCATE + COPY, and the same with FREEZE, into the full relaxed table.
  for freeze in "" ", FREEZE true"; do
    want modes || continue
    fresh_table relaxed
    psql -c "\\copy public.users FROM '$clean' WITH (FORMAT csv, HEADER true)" -c "CHECKPOINT"
    time_cmd "copy-truncate${freeze:+-freeze}" psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" \
      -c "BEGIN" -c "TRUNCATE public.users" \
      -c "\\copy public.users FROM '$clean' WITH (FORMAT csv, HEADER true$freeze)" -c "COMMIT"
    checks[copy-truncate${freeze:+-freeze}]=$(rows)
  done

  # upsert: the clean file (and the dirty one) into the table holding every
  # other record of it, against the recipe by hand: a temporary table, COPY,
  # one INSERT ... ON CONFLICT DO UPDATE (status's DEFAULT for its blanks).
  for c in upsert upsert-dirty upsert-recipe; do
    want upsert || continue
    fresh_table
    "$csvstage" -q -d "$dsn" -t public.users -r "$srv/fill.rejects.csv" "$clean"
    psql -c "DELETE FROM public.users WHERE id % 2 = 0" -c "VACUUM ANALYZE public.users" -c "CHECKPOINT"
    case $c in
      upsert) time_cmd upsert "$csvstage" -q -d "$dsn" -t public.users --mode upsert \
                -r "$srv/upsert.rejects.csv" "$clean" ;;
      upsert-dirty) time_cmd upsert-dirty "$csvstage" -q -d "$dsn" -t public.users --mode upsert \
                      -r "$srv/upsert-dirty.rejects.csv" "$dirty" ;;
      upsert-recipe)
        cols="first_name, last_name, email, status, signup_at, balance, active, score, notes"
        sets=$(echo "$cols" | sed 's/\([a-z_][a-z_]*\)/\1 = EXCLUDED.\1/g')
        time_cmd upsert-recipe psql -X -q -v ON_ERROR_STOP=1 -d "$dsn" -c "BEGIN" \
          -c "CREATE TEMP TABLE s (LIKE public.users INCLUDING DEFAULTS) ON COMMIT DROP" \
          -c "ALTER TABLE s ALTER status DROP NOT NULL" \
          -c "\\copy s FROM '$clean' WITH (FORMAT csv, HEADER true)" \
          -c "INSERT INTO public.users SELECT id, first_name, last_name, email,
                COALESCE(status, 'pending'), signup_at, balance, active, score, notes FROM s
              ON CONFLICT (id) DO UPDATE SET $sets" -c "COMMIT" ;;
    esac
    checks[$c]=$(rows)
  done

  if [ "$use_pgloader" = 1 ] && want pgloader; then
    fresh_table relaxed
    pgloader_cmd "$clean" "" >"$srv/clean.load"
    time_cmd pgloader-clean pgloader --quiet "$srv/clean.load"
    checks[pgloader-clean]=$(rows)

    fresh_table relaxed   # as for the baseline: pgloader has no DEFAULT for blanks
    head -n $((pgl_records + 1)) "$dirty" >"$srv/dirty-head.csv"
    pgloader_cmd "$srv/dirty-head.csv" "" >"$srv/dirty.load"
    time_cmd pgloader-dirty pgloader --quiet "$srv/dirty.load"
    checks[pgloader-dirty]=$(rows)
  fi
done

# The report: median of the runs per case, ratios to the baseline's median.
awk -v records="$records" -v pglr="$pgl_records" -v server="$server" \
    -v cpu="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" \
    -v ncpu="$(nproc)" -v runs="$runs" '
  { t[$1] = t[$1] " " $2; u[$1] = u[$1] " " ($3 + $4); m[$1] = m[$1] " " $5;
    if ($6 != 0 && $6 != 3 && !($1 ~ /-max-/ && $6 == 1)) bad[$1] = $6
    if (!($1 in order)) { order[$1] = ++n; name[n] = $1 } }
  function median(s,   a, k, i, j, x) {
    k = split(s, a, " ")
    for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    printf "PostgreSQL %s, %d records, %s (%d cores), median of %d run(s)\n", server, records, cpu, ncpu, runs
    base = median(t["copy"])
    printf "%-16s %9s %8s %12s %8s  %s\n", "case", "seconds", "ratio", "client cpu s", "rss MB", "every run, s"
    for (i = 1; i <= n; i++) {
      c = name[i]; s = median(t[c])
      r = s / base
      if (c == "pgloader-dirty") r = (s / pglr) / (base / records)
      printf "%-16s %9.2f %7.2fx %12.2f %8.1f %s%s\n", c, s, r, median(u[c]), median(m[c]) / 1024,
             t[c], (c in bad) ? "   FAILED: exit " bad[c] : ""
    }
    if ("pgloader-dirty" in t)
      printf "(pgloader-dirty read the first %d records; its ratio is per record)\n", pglr
    if ("copy-ignore-types10" in t)
      printf "types10 to COPY ... (ON_ERROR ignore) of the same file: %.2fx\n",
             median(t["types10"]) / median(t["copy-ignore-types10"])
    # Against a reference of the same run: the ratio of the medians, and
    # each run'"'"'s own (runs vary more than their ratios do).
    split("upsert upsert-recipe upsert-dirty upsert-recipe replace copy-delete", pair, " ")
    for (i = 1; i in pair; i += 2)
      if ((pair[i] in t) && (pair[i + 1] in t)) {
        k = split(t[pair[i]], a, " "); split(t[pair[i + 1]], b, " "); each = ""
        for (j = 1; j <= k; j++) each = each sprintf(" %.2f", a[j] / b[j])
        printf "%s to %s: %.2fx (each run:%s)\n", pair[i], pair[i + 1],
               median(t[pair[i]]) / median(t[pair[i + 1]]), each
      }
    for (i = 1; i <= n; i++)
      if (name[i] ~ /^dirty57-max-/)
        printf "%s to the whole file settled (dirty57): %.2f\n", name[i],
               median(t[name[i]]) / median(t["dirty57"])
  }' "$srv/times"
echo "rows in the table after each case (of $records records; the dirty file has $((records / 100)) bad):"
for k in "${!checks[@]}"; do echo "  $k: ${checks[$k]}"; done | sort
