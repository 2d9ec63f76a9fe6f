#!/bin/bash
# Run by tests/shards.test under tests/pg-harness (CSVSTAGE_TEST_DSN is set):
# a sharded target through PostgreSQL's own means, on three local servers.
# The harness's server holds a table partitioned by region whose
# partitions are postgres_fdw foreign tables on two more servers that this
# script starts: each shard's own CHECK and unique key reject records at
# their lines in the shard's words, a row with no partition is rejected, a
# later record of a key is the reject, the load is large enough for the
# fast path, and csvstage says that the shards commit without two-phase
# commit. Then what a shard stopped during COMMIT leaves.
set -u
bin=./csvstage
dsn=$CSVSTAGE_TEST_DSN
src=${srcdir:-.}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "${2:-$dsn}" -c "SET client_min_messages = warning" -c "$1"; }
tmp=$(mktemp -d /tmp/csvstage-shards.XXXXXX)
chmod 0755 "$tmp"
cleanup() {
  for s in a b; do "$src/tests/pg-harness" stop "$tmp/$s" immediate >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
err=$tmp/err

for s in a b; do
  "$src/tests/pg-harness" start "$tmp/$s" >/dev/null || { echo "shards: cannot start a shard"; exit 1; }
done
shard_a=$("$src/tests/pg-harness" dsn "$tmp/a")
shard_b=$("$src/tests/pg-harness" dsn "$tmp/b")
sql "CREATE TABLE part_eu (id int PRIMARY KEY, region text NOT NULL, v int CHECK (v >= 0), code text UNIQUE)" "$shard_a"
sql "CREATE TABLE part_us (id int PRIMARY KEY, region text NOT NULL, v int CHECK (v >= 0), code text UNIQUE)" "$shard_b"
sql "CREATE EXTENSION postgres_fdw;
     CREATE SERVER shard_a FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$tmp/a', port '5432', dbname 'postgres');
     CREATE SERVER shard_b FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$tmp/b', port '5432', dbname 'postgres');
     CREATE USER MAPPING FOR CURRENT_USER SERVER shard_a OPTIONS (user 'postgres');
     CREATE USER MAPPING FOR CURRENT_USER SERVER shard_b OPTIONS (user 'postgres');
     CREATE TABLE sharded (id int, region text, v int, code text) PARTITION BY LIST (region);
     CREATE FOREIGN TABLE sharded_eu PARTITION OF sharded FOR VALUES IN ('eu') SERVER shard_a OPTIONS (table_name 'part_eu');
     CREATE FOREIGN TABLE sharded_us PARTITION OF sharded FOR VALUES IN ('us') SERVER shard_b OPTIONS (table_name 'part_us')"

# 30,000 records: odd ids to eu, even to us; every 997th in no partition's
# region, every 1009th below the shards' CHECK, every 1013th with the code
# of the record 200 lines earlier (the same shard), every 1019th not an
# integer. What one INSERT per record, in order, gives (the same rules,
# worked out here) is written beside it: "line sqlstate" per reject, and
# the rows each shard ends with.
python3 - "$tmp" <<'PY'
import sys
tmp = sys.argv[1]
rows, rejects, codes, shard = [], [], {}, {"eu": 0, "us": 0}
for i in range(1, 30001):
    region = "eu" if i % 2 else "us"
    v, code = str(i), "c%d" % i
    if i % 997 == 0: region = "apac"
    if i % 1009 == 0: v = "-1"
    if i % 1013 == 0: code = "c%d" % (i - 200)
    if i % 1019 == 0: v = "x"
    rows.append("%d,%s,%s,%s" % (i, region, v, code))
    line = i + 1
    if v == "x": rejects.append("%d 22P02" % line)
    elif region == "apac": rejects.append("%d 23514" % line)
    elif v == "-1": rejects.append("%d 23514" % line)
    elif (region, code) in codes: rejects.append("%d 23505" % line)
    else:
        codes[(region, code)] = i
        shard[region] += 1
open(tmp + "/f.csv", "w").write("id,region,v,code\n" + "\n".join(rows) + "\n")
open(tmp + "/want", "w").write(" ".join(rejects) + "\n")
open(tmp + "/want_rows", "w").write("%d %d\n" % (shard["eu"], shard["us"]))
PY

"$bin" -v -d "$dsn" -t sharded -r "$tmp/rej.csv" "$tmp/f.csv" 2>"$err"; st=$?
got=$(tail -n +2 "$tmp/rej.csv" | cut -d, -f1,2 | tr ',' ' ' | sort -n | tr '\n' ' ' | sed 's/ $//')
[ $st -eq 3 ] && [ "$got" = "$(cat "$tmp/want")" ] &&
  [ "$(sql 'SELECT count(*) FROM part_eu' "$shard_a") $(sql 'SELECT count(*) FROM part_us' "$shard_b")" = "$(cat "$tmp/want_rows")" ] &&
  ok || bad "sharded load: exit $st, rejects differ or rows: $(head -c 600 "$err")"
# The shards' own words, at their lines; the parent's for no partition.
grep -q 'f.csv:1010: new row for relation "part_eu" violates check constraint "part_eu_v_check"' "$err" &&
  grep -q 'f.csv:998: no partition of relation "sharded" found for row' "$err" &&
  grep -q '^1014,23505,,,"duplicate key value violates unique constraint ""part_eu_code_key""",Key (code)=(c813) already exists\.,' "$tmp/rej.csv" &&
  ok || bad "sharded load: the shards' words: $(head -c 600 "$err")"
grep -q 'note: public.sharded stores rows on other servers (shard_a, shard_b): they commit without two-phase commit' "$err" &&
  ok || bad "sharded load: no note on two-phase commit: $(head -c 600 "$err")"
# Large enough for the fast path: most records went straight in.
staged=$(grep -o '[0-9]* records took the staging path' "$err" | cut -d' ' -f1)
[ -n "$staged" ] && [ "$staged" -lt 1000 ] && ok || bad "sharded load: $staged records staged"

# A shard stopped during COMMIT. The load waits in its `after` statement
# (its rows are on both shards, uncommitted) until shard b is stopped; its
# COMMIT then asks each shard to commit, one after the other, and fails at
# shard b. What is left: nothing on the main server, nothing on shard b
# (its transaction died with it), and on shard a, its part, committed or
# not by the order in which postgres_fdw reached the shards: csvstage says
# the load failed (exit 1) and that its outcome on other servers is
# unknown from here; the test reports which it was.
sql "CREATE TABLE hold_flag (t text); INSERT INTO hold_flag VALUES ('commit');
     CREATE FUNCTION wait_flag() RETURNS void LANGUAGE plpgsql AS \$\$
     BEGIN WHILE EXISTS (SELECT 1 FROM hold_flag) LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$"
sql "TRUNCATE part_eu" "$shard_a"
sql "TRUNCATE part_us" "$shard_b"
printf '[target]\ntable = sharded\nafter = SELECT wait_flag()\n' >"$tmp/c.conf"
printf 'id,region,v,code\n1,eu,1,a\n2,us,2,b\n3,eu,3,c\n' >"$tmp/c.csv"
"$bin" -d "$dsn" -c "$tmp/c.conf" -r "$tmp/c.rej" "$tmp/c.csv" 2>"$err" &
pid=$!
i=0
until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csvstage' AND wait_event = 'PgSleep'")" = 1 ]; do
  i=$((i + 1)); [ $i -lt 300 ] || break; sleep 0.1
done
"$src/tests/pg-harness" stop "$tmp/b" immediate >/dev/null 2>&1
sql "DELETE FROM hold_flag"
wait $pid; st=$?
"$src/tests/pg-harness" start "$tmp/b" >/dev/null
on_a=$(sql 'SELECT count(*) FROM part_eu' "$shard_a")
[ $st -eq 1 ] && [ "$(sql 'SELECT count(*) FROM part_us' "$shard_b")" = 0 ] &&
  { [ "$on_a" = 0 ] || [ "$on_a" = 2 ]; } &&
  grep -q 'c.csv: COMMIT failed, nothing committed here; the other servers (shard_a, shard_b) may have committed their part of it: check them: server closed the connection unexpectedly' "$err" &&
  ok || bad "a shard stopped during COMMIT: exit $st, shard a holds $on_a: $(cat "$err")"
echo "shards: a shard stopped during COMMIT left shard a with $on_a of its 2 rows committed (csvstage exited $st: $(grep -o 'csvstage: .*' "$err" | tail -n 1 | cut -c1-200))"

echo "shards: $pass passed, $fail failed"
[ $fail -eq 0 ]
