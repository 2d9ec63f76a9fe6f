#!/usr/bin/env bash
# reader-formats.sh CSV: the reader on CSV compressed each way csvstage reads,
# next to that format's own command-line tool decompressing the same file
# to /dev/null (best of 3 each). The ratio is csvstage's reader (decompress,
# parse, encode COPY data) over the tool's decompression alone.
set -euo pipefail
csv=$1
bench=${READER_BENCH:-tests/bench/reader-bench}
dir=$(dirname "$csv")
base=$(basename "$csv")

make_one() {   # FILE COMMAND...: writes FILE from the CSV once
  local out=$1; shift
  [ -s "$out" ] && return 0
  "$@" >"$out.tmp" && mv "$out.tmp" "$out"
}
make_one "$csv.gz" gzip -6 -c "$csv"
make_one "$csv.zst" zstd -q -3 -c "$csv"
make_one "$csv.xz" xz -6 -T1 -c "$csv"
make_one "$csv.bz2" bzip2 -9 -c "$csv"
[ -s "$csv.zip" ] || (cd "$dir" && zip -q "$base.zip" "$base")

best_of_3() {   # COMMAND...: the best wall time of three runs, in seconds
  local best= t
  for _ in 1 2 3; do
    t=$( { TIMEFORMAT=%R; time "$@" >/dev/null 2>&1; } 2>&1 )
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  echo "$best"
}

printf '%-6s %10s %12s %10s %8s %s\n' format "size MB" "reader s" "tool s" ratio tool
for f in gz zst xz bz2 zip; do
  file=$csv.$f
  case $f in
    gz) tool=(zcat "$file") ;;
    zst) tool=(zstdcat "$file") ;;
    xz) tool=(xzcat "$file") ;;
    bz2) tool=(bzcat "$file") ;;
    zip) tool=(unzip -p "$file") ;;
  esac
  r=$("$bench" "$file" | sed -n 's/.* in \([0-9.]*\) s (best of.*/\1/p')
  t=$(best_of_3 "${tool[@]}")
  printf '%-6s %10.1f %12.3f %10.3f %7.2fx %s\n' "$f" "$(awk -v s="$(stat -c %s "$file")" 'BEGIN { print s / 1e6 }')" \
    "$r" "$t" "$(awk -v a="$r" -v b="$t" 'BEGIN { print a / b }')" "${tool[0]}"
done
