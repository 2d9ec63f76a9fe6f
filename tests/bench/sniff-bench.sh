#!/usr/bin/env bash
# The first load of real files, csvstage against DuckDB's sniffer
# (`make bench-sniff`). For each file of sniff-corpus.tsv (real files from
# Debian and npm packages, pinned), csvstage's two ways to a first load:
#   three steps: init --create-table T FILE | psql; init -t T FILE > T.conf;
#                csvstage -c T.conf FILE
#   one step:    the same run as one (the table and config from the file)
# and DuckDB's CREATE TABLE t AS FROM read_csv(FILE), no options. A load is
# full when the table holds the file's true records in its true columns
# (sniff-corpus.tsv says how many) and nothing is rejected; a load that
# exits 0 and is not full is wrong, the worst outcome. Prints a row per
# file and the shares.
#
# Needs a server: run under tests/pg-harness run (CSVSTAGE_TEST_DSN), with
# CSVSTAGE (the binary, default ./csvstage) and SNIFF_CACHE (where the
# packages are fetched and unpacked, default ./sniff-corpus) as wished.
# Fetches with apt-get download and npm pack; DuckDB from npm
# (@duckdb/node-api).
set -u
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/sniff-corpus.tsv
bin=$(realpath "${CSVSTAGE:-./csvstage}")
cache=$(mkdir -p "${SNIFF_CACHE:-sniff-corpus}" && realpath "${SNIFF_CACHE:-sniff-corpus}")
dsn=${CSVSTAGE_TEST_DSN:?run under tests/pg-harness run}
duckdb_version=1.5.6-r.1
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$dsn" -c "SET client_min_messages = warning" -c "$1"; }

# The packages, once each: unpacked under $cache/x/SOURCE.
# (No = in a directory's name: DuckDB would take KEY=VALUE for a hive
# partition and add a column.)
dir_of() { printf '%s' "$1" | tr ':=@/' '____'; }
fetch() {
  local src=$1 dir=$cache/x/$(dir_of "$1")
  [ -d "$dir" ] && return 0
  mkdir -p "$cache/dl" && (
    cd "$cache/dl" || exit 1
    case $src in
      deb:*) name=${src#deb:} pkg=${name%%=*} ver=${name#*=}
             deb=$(ls ./"${pkg}_${ver#*:}"_*.deb 2>/dev/null | head -n 1)
             [ -n "$deb" ] || { apt-get download "$name" >/dev/null 2>&1 &&
                                deb=$(ls ./"${pkg}_${ver#*:}"_*.deb | head -n 1); } &&
               mkdir -p "$dir.tmp" && dpkg-deb -x "$deb" "$dir.tmp" ;;
      npm:*) name=${src#npm:}; tgz=$(npm pack --silent "$name" 2>/dev/null | tail -n 1) &&
               mkdir -p "$dir.tmp" && tar xzf "$tgz" -C "$dir.tmp" ;;
    esac
  ) && mv "$dir.tmp" "$dir" || { rm -rf "$dir.tmp"; echo "sniff-bench: cannot fetch $src" >&2; return 1; }
}
if [ ! -e "$cache/node/node_modules/@duckdb/node-api" ]; then
  mkdir -p "$cache/node" &&
    (cd "$cache/node" && npm install --silent --no-audit --no-fund "@duckdb/node-api@$duckdb_version" >/dev/null) ||
    echo "sniff-bench: cannot install @duckdb/node-api: DuckDB's column left out" >&2
fi
cp "$here/duckdb-sniff.mjs" "$cache/node/"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 full3=0 full1=0 fullduck=0 wrong3=0 wrong1=0 wrongduck=0 files=0
printf '%-34s %7s %4s | %-22s | %-22s | %-22s\n' file records cols "three steps" "one step (--create)" "DuckDB $duckdb_version"
# A table's rows and columns, or the reason there is none.
shape() { sql "SELECT count(*) || ' ' || (SELECT count(*) FROM pg_attribute WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped) FROM $1" 2>/dev/null; }
# Whether a load is full (1), wrong with exit 0 (2), else (0).
verdict() {   # status rows cols rejected want_status want_rows want_cols want_rejected
  if [ "$1" = "$5" ] && [ "$2" = "$6" ] && [ "$3" = "$7" ] && [ "$4" = "$8" ]; then echo 1
  elif [ "$1" = 0 ]; then echo 2
  else echo 0; fi
}
rejected() { [ -e "$1" ] && "$bin" rejects ${2:+-c "$2"} "$1" 2>/dev/null | sed -n '1s/.*: \([0-9]*\) rejected records\{0,1\}$/\1/p' || echo 0; }
cell() {   # verdict status rows cols
  case $1 in 1) printf 'full %s x %s%s' "$3" "$4" "$([ "$malformed" -gt 0 ] && echo " +$malformed rej")" ;; 2) printf 'WRONG, exit 0: %s x %s' "$3" "$4" ;;
             *) printf 'exit %s: %s x %s' "$2" "${3:--}" "${4:--}" ;; esac
}
while IFS='	' read -r src path want_records want_cols malformed _note; do
  case $src in '#'*|'') continue ;; esac
  fetch "$src" || continue
  file=$cache/x/$(dir_of "$src")/$path
  want_rows=$((want_records - malformed)) want_st=$([ "$malformed" -gt 0 ] && echo 3 || echo 0)
  [ -e "$file" ] || { echo "sniff-bench: $src has no $path" >&2; continue; }
  n=$((n + 1)) files=$((files + 1))
  t=sniff_$n
  # Three steps.
  sql "DROP TABLE IF EXISTS ${t}_a, ${t}_b" >/dev/null
  st=9
  if "$bin" init --create-table "${t}_a" "$file" >"$work/$t.sql" 2>"$work/$t.err" &&
     psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$work/$t.sql" >/dev/null 2>>"$work/$t.err" &&
     "$bin" init -d "$dsn" -t "${t}_a" "$file" >"$work/$t.conf" 2>>"$work/$t.err"; then
    "$bin" -q -d "$dsn" -c "$work/$t.conf" -r "$work/$t.rej" "$file" 2>>"$work/$t.err"; st=$?
  fi
  read -r rows cols <<<"$(shape "${t}_a")"
  v3=$(verdict "$st" "${rows:-}" "${cols:-}" "$(rejected "$work/$t.rej" "$work/$t.conf")" "$want_st" "$want_rows" "$want_cols" "$malformed")
  c3=$(cell "$v3" "$st" "${rows:-}" "${cols:-}")
  # One step: --create, where this build has it.
  if "$bin" --help | grep -q -- '--create '; then
    "$bin" -q -d "$dsn" --create -t "${t}_b" -r "$work/$t.rej1" "$file" 2>>"$work/$t.err"; st1=$?
    read -r rows1 cols1 <<<"$(shape "${t}_b")"
    v1=$(verdict "$st1" "${rows1:-}" "${cols1:-}" "$(rejected "$work/$t.rej1")" "$want_st" "$want_rows" "$want_cols" "$malformed")
    c1=$(cell "$v1" "$st1" "${rows1:-}" "${cols1:-}")
  else
    v1=0 c1="(no --create)"
  fi
  # DuckDB.
  vd=0 cd="-"
  if [ -e "$cache/node/node_modules/@duckdb/node-api" ]; then
    IFS='	' read -r _f drows dcols <<<"$(cd "$cache/node" && node duckdb-sniff.mjs "$file" 2>&1 | tail -n 1)"
    if [ "$drows" = ERROR ]; then cd="error"; else
      # DuckDB reports no rejects: its table is judged alone.
      vd=$(verdict 0 "$drows" "$dcols" 0 0 "$want_rows" "$want_cols" 0); cd=$(cell "$vd" 0 "$drows" "$dcols"); fi
  fi
  [ "$v3" = 1 ] && full3=$((full3 + 1)); [ "$v3" = 2 ] && wrong3=$((wrong3 + 1))
  [ "$v1" = 1 ] && full1=$((full1 + 1)); [ "$v1" = 2 ] && wrong1=$((wrong1 + 1))
  [ "$vd" = 1 ] && fullduck=$((fullduck + 1)); [ "$vd" = 2 ] && wrongduck=$((wrongduck + 1))
  printf '%-34s %7s %4s | %-22s | %-22s | %-22s\n' "$(basename "$path" | cut -c1-34)" "$want_records" "$want_cols" "$c3" "$c1" "$cd"
  sql "DROP TABLE IF EXISTS ${t}_a, ${t}_b" >/dev/null
done <"$corpus"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d of %d (%.0f%%)", a, b, b ? 100 * a / b : 0 }'; }
echo
echo "full loads:   three steps $(pct $full3 $files), one step $(pct $full1 $files), DuckDB $(pct $fullduck $files)"
echo "wrong, exit 0 (or DuckDB's table wrong): three steps $wrong3, one step $wrong1, DuckDB $wrongduck"
