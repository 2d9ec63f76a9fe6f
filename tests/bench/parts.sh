# parts.sh: sourced by the benchmarks that load several files of users
# records (jobs-bench.sh, twophase-bench.sh).
#
# bench_parts NAME COUNT RECORDS: fills the array `list` with COUNT files
# $dir/NAME-RECORDS-K.csv of RECORDS records each (made once, kept in
# $dir), each with ids and e-mails of its own (both are unique in the users
# table): the generator's, shifted by a file's worth, CSV-aware (its notes
# hold commas and line breaks).
bench_parts() {
  local name=$1 count=$2 records=$3 gen=tests/bench/gen-users f i
  [ -x "$gen" ] || make -s "$gen"
  mkdir -p "$dir"
  list=()
  for ((i = 1; i <= count; i++)); do
    f=$dir/$name-$records-$i.csv
    if [ ! -s "$f" ]; then
      "$gen" "$records" | python3 -c '
import csv, sys
off = int(sys.argv[1])
r, w = csv.reader(sys.stdin), csv.writer(sys.stdout, lineterminator="\n")
w.writerow(next(r))
for row in r:
    row[0] = str(int(row[0]) + off)
    row[3] = "user%s@example.com" % row[0]
    w.writerow(row)' $(((i - 1) * records)) >"$f.tmp"
      mv "$f.tmp" "$f"
    fi
    list+=("$f")
  done
}

# bench_server NAME: a server of its own in a new /tmp/csvstage-NAME.XXXXXX
# (srv), stopped and removed on exit; dsn for it.
bench_server() {
  srv=$(mktemp -d "/tmp/csvstage-$1.XXXXXX")
  chmod 0755 "$srv"
  trap 'tests/pg-harness stop "$srv" >/dev/null 2>&1 || true; rm -rf "$srv"' EXIT
  tests/pg-harness start "$srv" >/dev/null
  dsn=$(tests/pg-harness dsn "$srv")
}
