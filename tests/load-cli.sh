#!/bin/sh
# Run by tests/load.test under tests/pg-harness (CSVSTAGE_TEST_DSN is set).
set -u
bin=./csvstage
dsn=$CSVSTAGE_TEST_DSN
src=${srcdir:-.}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$dsn" -c "SET client_min_messages = warning" -c "$1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
err=$tmp/err

# Rows per table, "schema.table count", every table the tests made.
table_rows() {
  sql "SELECT format('%I.%I', n.nspname, c.relname) || ' ' ||
              (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                                   false, true, '')))[1]::text
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'csvstage')
        ORDER BY 1"
}

# Every load in the foreground runs through cs, which checks the accounting
# after it from the run's JSON summary: for each file that completed,
# records = loaded + rejected + dropped, and its reject file holds `rejected` records
# (counted by `csvstage rejects`); each table gained exactly the loaded
# records of the committed files that went to it, and nothing else changed.
cs() {
  json=$tmp/acct.json own= conf= prev=
  for a in "$@"; do
    case $prev in --summary-json) own=$a ;; -c) conf=$a ;; esac
    case $a in --summary-json=*) own=${a#*=} ;; esac
    prev=$a
  done
  before=$(table_rows) fail0=$fail
  rm -f "$json"
  if [ -n "$own" ]; then "$bin" "$@"; else "$bin" "$@" --summary-json "$json"; fi
  cs_st=$?
  [ -n "$own" ] && json=$own
  if [ "$own" = - ] || { [ -n "$own" ] && [ ! -e "$own" ]; }; then
    return $cs_st   # the summary went to stdout or could not be written
  fi
  if ! [ -s "$json" ]; then
    # A usage or config error stops the run before it starts: no summary,
    # and nothing may have changed.
    [ $cs_st -eq 2 ] && [ "$(table_rows)" = "$before" ] ||
      bad "accounting: exit $cs_st and no JSON summary, or rows changed: $*"
    return $cs_st
  fi
  jq -r '.files[] | [.table // "-", .records, .loaded, .rejected, .dropped, .committed, .exit_code,
                     .reject_file // "-", .file, .ignored, .inserted, .updated, .mode] | @tsv' \
    "$json" >"$tmp/acct.files"
  while IFS='	' read -r table records loaded rejected dropped committed code rfile file ignored \
                        inserted updated mode; do
    [ "$code" = 0 ] || [ "$code" = 3 ] || continue
    [ "$records" -eq $((loaded + rejected + ignored + dropped)) ] ||
      bad "accounting: $file: $records records, $loaded loaded + $rejected rejected + $ignored ignored + $dropped dropped ($*)"
    [ "$loaded" -eq $((inserted + updated)) ] ||
      bad "accounting: $file: $loaded loaded, $inserted inserted + $updated updated ($*)"
    if [ "$rejected" -gt 0 ]; then
      inrej=$("$bin" rejects ${conf:+-c "$conf"} "$rfile" 2>&1 | sed -n '1s/.*: \([0-9]*\) rejected records\{0,1\}$/\1/p')
      [ "$inrej" = "$rejected" ] ||
        bad "accounting: $file: $rejected rejected, $rfile holds ${inrej:-none} ($*)"
    fi
  done <"$tmp/acct.files"
  after=$(table_rows)
  # A table a committed load emptied (mode truncate, replace) holds what
  # the run loaded; any other gained it.
  gained=$(awk -F '\t' '$6 == "true" { g[$1] += $3; if ($13 != "append") e[$1] = 1 }
    END { for (t in g) print t, g[t], (t in e) }' "$tmp/acct.files")
  want=$(printf '%s\n' "$before" | awk -v gained="$gained" '
    BEGIN { n = split(gained, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); g[f[1]] = f[2]; e[f[1]] = f[3] } }
    NF == 2 { print $1, (e[$1] ? 0 : $2) + g[$1] }')
  [ "$(printf '%s\n' "$after" | sort)" = "$(printf '%s\n' "$want" | sort)" ] ||
    bad "accounting: rows before $(echo $before), after $(echo $after), loaded $(echo $gained) ($*)"
  [ $fail -eq $fail0 ] && ok
  return $cs_st
}

sql "DROP TABLE IF EXISTS public.users" && psql -X -q "$dsn" -f "$src/schemas/users.sql"

# The sample: committed with rejects: 3.
cs -d "$dsn" -c "$src/samples/users.conf" -r "$tmp/rej.csv" "$src/samples/users.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && ok || bad "sample: exit $st, want 3: $(cat "$err")"
# stderr is a file here, not a terminal: one line per event, each starting
# with its time.
ts='20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'
grep -q "^$ts csvstage: $src/samples/users.csv -> public.users: 9 records, 4 loaded, 5 rejected, .*; 1 23502 not_null_violation column email; .*; reject file: $tmp/rej.csv\$" "$err" \
  && ok || bad "sample summary: $(head -1 "$err")"
grep -q "^$ts $src/samples/users.csv:5: null value in column \"email\" of relation \"users\" violates not-null constraint\$" "$err" \
  && ok || bad "no FILE:LINE line for line 5"
[ "$(grep -cv "^$ts " "$err")" = 0 ] && ok || bad "log lines without a time: $(grep -v "^$ts " "$err")"
[ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM users')" = "1,2,7,9" ] && ok || bad "sample rows"
[ "$(stat -c %a "$tmp/rej.csv")" = 600 ] && ok || bad "reject file mode $(stat -c %a "$tmp/rej.csv")"

# Again, from stdin, gzip'd: every record is now a duplicate or bad: 3, nothing new.
cs -d "$dsn" -c "$src/samples/users.conf" -r "$tmp/rej.csv" --max-rejects 100% <"$src/samples/users.csv.gz" 2>"$err"; st=$?
[ $st -eq 3 ] && ok || bad "gzip stdin: exit $st: $(cat "$err")"
grep -q 'Z csvstage: stdin -> public.users: 9 records, 0 loaded, 9 rejected' "$err" && ok || bad "stdin summary: $(head -1 "$err")"

# Over --max-rejects: 1, nothing committed, the reject file written.
rm -f "$tmp/rej.csv"
sql "TRUNCATE users"
cs -d "$dsn" -t users -r "$tmp/rej.csv" --max-rejects 2 "$src/samples/users.csv" 2>"$err"; st=$?
[ $st -eq 1 ] && ok || bad "max-rejects: exit $st, want 1"
grep -q 'more than max_rejects 2: nothing committed' "$err" && ok || bad "max-rejects message: $(cat "$err")"
[ "$(sql 'SELECT count(*) FROM users')" = 0 ] && ok || bad "max-rejects committed rows"
[ -s "$tmp/rej.csv" ] && ok || bad "max-rejects: no reject file"

# A dry run: 3 (would be), nothing committed.
cs -d "$dsn" -t users -r "$tmp/rej.csv" -n "$src/samples/users.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && ok || bad "dry run: exit $st, want 3"
grep -q 'would load.*dry run: rolled back' "$err" && ok || bad "dry run summary: $(head -1 "$err")"
[ "$(sql 'SELECT count(*) FROM users')" = 0 ] && ok || bad "dry run committed rows"

# A clean file: 0, and the old reject file is gone.
printf 'id,first_name,last_name,email,signup_at\n1,A,B,a@x.example,2024-01-01\n' >"$tmp/clean.csv"
cs -d "$dsn" -t users -r "$tmp/rej.csv" "$tmp/clean.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && ok || bad "clean: exit $st, want 0: $(cat "$err")"
[ ! -e "$tmp/rej.csv" ] && ok || bad "clean run left the old reject file"
[ "$(sql 'SELECT status || $$/$$ || balance || $$/$$ || active FROM users')" = "pending/0.00/true" ] \
  && ok || bad "defaults for omitted columns"

# Preflight: 2, and nothing done.
printf 'id,emial\n2,b@x.example\n' >"$tmp/typo.csv"
cs -d "$dsn" -t users "$tmp/typo.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && ok || bad "preflight: exit $st, want 2"
grep -q 'no column of table public.users for CSV column "emial"' "$err" && ok || bad "preflight message: $(cat "$err")"
cs -d "$dsn" -t nosuch "$tmp/clean.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'Z csvstage: table nosuch does not exist$' "$err" && ok || bad "no table: exit $st: $(cat "$err")"
cs -d "$dsn" "$tmp/clean.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'no target table' "$err" && ok || bad "no -t: exit $st: $(cat "$err")"
printf '[target]\ntabel = users\n' >"$tmp/bad.conf"
cs -d "$dsn" -c "$tmp/bad.conf" "$tmp/clean.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "bad.conf:2: unknown key 'tabel' in \[target\]" "$err" && ok || bad "bad config: exit $st: $(cat "$err")"

# Unreadable input, unreachable server, a password in the conninfo: 1, never shown.
cs -d "$dsn" -t users "$tmp/none.csv" 2>"$err"; st=$?
[ $st -eq 1 ] && grep -q 'none.csv' "$err" && ok || bad "missing input: exit $st: $(cat "$err")"
cs -d "host=/nonexistent user=u password=s3cret-pw" -t users "$tmp/clean.csv" 2>"$err"; st=$?
[ $st -eq 1 ] && ok || bad "no server: exit $st, want 1"
grep -q 's3cret-pw' "$err" && bad "the password was printed: $(cat "$err")" || ok
[ "$(sql 'SELECT count(*) FROM users')" = 1 ] && ok || bad "rows after the failures"

# Another run holds the table: 75 at once, naming its backend; --wait waits
# for it and loads.
key="(1668510823::bigint << 32) | 'public.users'::regclass::oid::bigint"
psql -X -q "$dsn" -c "BEGIN" -c "SELECT pg_advisory_xact_lock($key)" \
  -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null &
holder=$!
sleep 1
printf 'id,first_name,last_name,email,signup_at\n3,C,D,c@x.example,2024-01-01\n' >"$tmp/more.csv"
cs -d "$dsn" -t users -r "$tmp/rej.csv" "$tmp/more.csv" 2>"$err"; st=$?
[ $st -eq 75 ] && ok || bad "busy: exit $st, want 75: $(cat "$err")"
grep -q 'another csvstage run (backend pid [0-9][0-9]*) is loading public.users: try again later, or give --wait' "$err" \
  && ok || bad "busy message: $(cat "$err")"
cs -d "$dsn" -t users -r "$tmp/rej.csv" --wait=30 "$tmp/more.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && ok || bad "--wait: exit $st, want 0: $(cat "$err")"
wait $holder
[ "$(sql 'SELECT count(*) FROM users')" = 2 ] && ok || bad "rows after --wait"
cs -d "$dsn" -t users --wait=soon "$tmp/more.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "invalid --wait 'soon'" "$err" && ok || bad "--wait=soon: exit $st: $(cat "$err")"

# Several files: each in its own transaction, each with its own reject file;
# the worst status wins.
printf 'id,first_name,last_name,email,signup_at\n4,E,F,e@x.example,2024-01-01\n4,G,H,g@x.example,2024-01-01\n' >"$tmp/a.csv"
printf 'id,first_name,last_name,email,signup_at\n5,I,J,i@x.example,2024-01-01\n6,K,L,,2024-01-01\n' >"$tmp/b.csv"
cs -d "$dsn" -t users -r "$tmp/rej.csv" "$tmp/a.csv" "$tmp/b.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && ok || bad "two files: exit $st, want 3: $(cat "$err")"
[ -s "$tmp/rej.a.csv" ] && [ -s "$tmp/rej.b.csv" ] && [ ! -e "$tmp/rej.csv" ] \
  && ok || bad "two files: reject files $(ls "$tmp")"
[ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM users WHERE id >= 4')" = "4,5" ] \
  && ok || bad "two files: rows"

# The JSON summary: one document, per file the counts (records = loaded +
# rejected), rejects by SQLSTATE, the commit, the exit status; the run's.
cs -d "$dsn" -t users -r "$tmp/rej.csv" --summary-json "$tmp/sum.json" "$tmp/a.csv" "$tmp/none.csv" 2>"$err"; st=$?
[ $st -eq 1 ] && ok || bad "summary run: exit $st, want 1: $(cat "$err")"
tr -d ' \n' <"$tmp/sum.json" >"$tmp/sum.flat"
grep -q '^{"exit_code":1,"files":\[{"file":"[^"]*/a.csv","table":"public.users","records":2,"loaded":0,"rejected":2,"dropped":0,"inserted":0,"updated":0,"ignored":0,"comment_lines":0,"skipped_lines":0,"mode":"append","stopped_at_line":null,"rejects_by_sqlstate":{"23505":2},"reject_file":"[^"]*/rej.a.csv","committed":true,"dry_run":false,"skipped":false,"sha256":null,"exit_code":3,"error":null,"sqlstate":null,"started_at":"20[0-9-]*T[0-9:.]*Z","finished_at":"20[0-9-]*T[0-9:.]*Z","elapsed_s":[0-9.]*,"bytes":[0-9]*,"outcome_unknown":false},{"file":"[^"]*/none.csv",.*"records":0,"loaded":0,"rejected":0,.*"committed":false,.*"exit_code":1,"error":"[^"]*none.csv:Nosuchfileordirectory"' "$tmp/sum.flat" \
  && ok || bad "summary json: $(cat "$tmp/sum.json")"
cs -d "$dsn" -t users --summary-json "$tmp/nodir/sum.json" "$tmp/a.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && grep -q 'cannot write the JSON summary: .*nodir/sum.json' "$err" \
  && ok || bad "summary to a missing directory: exit $st: $(cat "$err")"

# The ledger: gzip'd stdin loaded once; the same bytes again are skipped
# (exit 0, "skipped" in the JSON); --force loads them again.
sql "CREATE TABLE ledger_t (id int PRIMARY KEY, first_name text, last_name text, email text, status text, signup_at text, balance text, active text, score text, notes text)"
cs -d "$dsn" -t ledger_t --ledger -r "$tmp/l.csv" <"$src/samples/users.csv.gz" 2>"$err"; st=$?
[ $st -eq 3 ] && ok || bad "ledger first: exit $st: $(cat "$err")"
cs -d "$dsn" -t ledger_t --ledger -r "$tmp/l.csv" --summary-json "$tmp/l.json" <"$src/samples/users.csv.gz" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q 'csvstage: stdin -> public.ledger_t: already loaded on .* (sha256 [0-9a-f]\{12\}...): skipped; --force loads it again$' "$err" \
  && tr -d ' \n' <"$tmp/l.json" | grep -q '"records":0,"loaded":0,"rejected":0,.*"committed":false,.*"skipped":true,"sha256":"[0-9a-f]\{64\}"' \
  && ok || bad "ledger again: exit $st: $(cat "$err") $(cat "$tmp/l.json")"
cs -d "$dsn" -t ledger_t --ledger --force -r "$tmp/l.csv" <"$src/samples/users.csv.gz" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT count(*) FROM csvstage.loads WHERE target = $$public.ledger_t$$')" = 2 ] \
  && ok || bad "ledger --force: exit $st: $(cat "$err")"

# csvstage rejects: the review of a reject file, and how to load it again.
cs -d "$dsn" -c "$src/samples/users.conf" -r "$tmp/rev.csv" "$src/samples/users.csv" 2>/dev/null
"$bin" rejects -c "$src/samples/users.conf" "$tmp/rev.csv" >"$tmp/rev.out" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q "^$tmp/rev.csv: 6 rejected records\$" "$tmp/rev.out" &&
  grep -q '^         1  23502 not_null_violation  column email$' "$tmp/rev.out" &&
  grep -q 'date/time field value out of range: "..."' "$tmp/rev.out" &&
  grep -q "^  csvstage -c $src/samples/users.conf -t public.users $tmp/rev.csv\$" "$tmp/rev.out" \
  && ok || bad "rejects review: exit $st: $(cat "$tmp/rev.out" "$err")"
# The reload command runs as printed (a path that needs quoting included):
# the unfixed records load into the config's table again, with rejects.
cp "$tmp/rev.csv" "$tmp/it's rev.csv"
"$bin" rejects -c "$src/samples/users.conf" "$tmp/it's rev.csv" >"$tmp/rev.out" 2>"$err"
cmd=$(sed -n 's/^  \(csvstage -c .*\)$/\1/p' "$tmp/rev.out")
eval "\"\$bin\"${cmd#csvstage} -d \"\$dsn\" -r \"\$tmp/rev2.csv\"" 2>"$err"; st=$?
[ $st -eq 3 ] && grep -q "it's rev.csv -> public.users: 6 records" "$err" \
  && ok || bad "the reload command as printed: $cmd: exit $st: $(cat "$err")"
"$bin" rejects "$tmp/rev.csv" >"$tmp/rev.out" 2>"$err"
grep -q "^  csvstage -t TABLE $tmp/rev.csv\$" "$tmp/rev.out" &&
  grep -q "(TABLE: the table to load; neither -t nor the config names it)" "$tmp/rev.out" \
  && ok || bad "rejects review without a table: $(cat "$tmp/rev.out")"
"$bin" rejects 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'give the reject file to review' "$err" && ok || bad "rejects without a file: exit $st"

# csvstage init: a starter config from the header and the catalog; once its
# ERROR is resolved, it loads the file.
sql "CREATE TABLE init_t (id int PRIMARY KEY, full_name text NOT NULL, email text NOT NULL, status text DEFAULT 'new', note text)"
printf 'ID,Full Name,E-mail,status,junk\n1,Ann,a@x.example,,zz\n' >"$tmp/init.csv"
"$bin" init -d "$dsn" -t init_t "$tmp/init.csv" >"$tmp/init.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^from = ID$' "$tmp/init.conf" && grep -q '^from = Full Name$' "$tmp/init.conf" &&
  grep -q '^ignore = E-mail, junk$' "$tmp/init.conf" &&
  grep -q '^; ERROR: no CSV column feeds this NOT NULL column' "$tmp/init.conf" &&
  grep -q '^coalesce = DEFAULT' "$tmp/init.conf" && grep -q '^table = public.init_t$' "$tmp/init.conf" &&
  grep -q '^; mode = append ' "$tmp/init.conf" \
  && ok || bad "init: exit $st: $(cat "$tmp/init.conf" "$err")"
cs -d "$dsn" -c "$tmp/init.conf" -r "$tmp/init.rej" "$tmp/init.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'from = "?"' "$err" && ok || bad "init's ERROR unresolved: exit $st: $(cat "$err")"
sed -i 's/^from = ?$/from = E-mail/; s/^ignore = E-mail, junk$/ignore = junk/' "$tmp/init.conf"
cs -d "$dsn" -c "$tmp/init.conf" -r "$tmp/init.rej" "$tmp/init.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT id, full_name, email, status FROM init_t')" = "1|Ann|a@x.example|new" ] \
  && ok || bad "init's config, resolved: exit $st: $(cat "$err")"
"$bin" init -d "$dsn" "$tmp/init.csv" >"$tmp/sniffed.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^table = ?' "$tmp/sniffed.conf" && ok || bad "init without -t (sniffed): exit $st"
"$bin" init --sample 1 "$tmp/init.csv" >"$tmp/sniffed1.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '(1 records sampled)' "$tmp/sniffed1.conf" && ok || bad "init --sample 1: exit $st: $(cat "$err")"
"$bin" init --sample 0 "$tmp/init.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "invalid --sample '0'" "$err" && ok || bad "init --sample 0: exit $st"
"$bin" init 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'csvstage init: give one CSV file' "$err" && ok || bad "init without a file: exit $st"

wait_for() {
  i=0
  while [ "$(sql "$1")" != 1 ]; do
    [ $i -lt 300 ] || { bad "waited 30 s in vain for: $1"; return 1; }
    sleep 0.1; i=$((i + 1))
  done
}
# A load held mid-COPY: a statement trigger that waits while the table is
# flagged, so that what happens "during a load" does not depend on how fast
# the machine loads. hold TABLE flags it and adds the trigger; held waits
# until a csvstage backend is in it; release lets it go on.
sql "CREATE TABLE hold_flag (t text);
     CREATE FUNCTION hold_while_flagged() RETURNS trigger LANGUAGE plpgsql AS \$\$
     BEGIN
       WHILE EXISTS (SELECT 1 FROM hold_flag WHERE t = TG_TABLE_NAME) LOOP
         PERFORM pg_sleep(0.05);
       END LOOP;
       RETURN NULL;
     END \$\$"
hold() {
  sql "INSERT INTO hold_flag VALUES ('$1');
       CREATE OR REPLACE TRIGGER held BEFORE INSERT ON $1 FOR EACH STATEMENT EXECUTE FUNCTION hold_while_flagged()"
}
held() {
  wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csvstage' AND wait_event = 'PgSleep'"
}
release() { sql "DELETE FROM hold_flag WHERE t = '$1'"; }

# --jobs N: several files at once, each in its own transaction, reported in
# the order given, whatever order they finish in; the exit status and JSON
# as one by one.
sql "CREATE TABLE jobs_t (id int PRIMARY KEY, v text NOT NULL)"
for n in 1 2 3 4 5; do
  seq $((n * 100000)) $((n * 100000 + 19999)) | awk -v n=$n 'BEGIN { print "id,v" } { print $1 "," (n == 3 && $1 % 1000 == 0 ? "" : "x") }' >"$tmp/jobs$n.csv"
done
printf 'idx,v\n1,a\n' >"$tmp/jobs6.csv"
cs -d "$dsn" -t jobs_t --jobs 3 -r "$tmp/jobs.rej" --summary-json "$tmp/jobs.json" "$tmp/jobs1.csv" \
  "$tmp/jobs2.csv" "$tmp/jobs3.csv" "$tmp/jobs6.csv" "$tmp/jobs4.csv" "$tmp/jobs5.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && [ "$(sql 'SELECT count(*) FROM jobs_t')" = 99980 ] &&
  [ "$(grep -o 'jobs[0-9].csv\( ->\|:\) ' "$err" | tr -d ' :\n')" = "jobs1.csv->jobs2.csv->jobs3.csv->jobs6.csvjobs4.csv->jobs5.csv->" ] &&
  [ "$(jq -r '[.files[] | "\(.exit_code)/\(.loaded)"] | join(" ")' "$tmp/jobs.json")" = "0/20000 0/20000 3/19980 2/0 0/20000 0/20000" ] &&
  ok || bad "--jobs 3, mixed outcomes: exit $st: $(cat "$err")"
"$bin" -d "$dsn" -t jobs_t --jobs 2 --single-transaction "$tmp/jobs1.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q -- '--jobs and --single-transaction exclude each other' "$err" && ok || bad "--jobs --single-transaction: exit $st"
"$bin" -d "$dsn" -t jobs_t --jobs 0 "$tmp/jobs1.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "invalid --jobs '0'" "$err" && ok || bad "--jobs 0: exit $st"
"$bin" -d "$dsn" -t jobs_t --jobs 2 --mode truncate "$tmp/jobs1.csv" "$tmp/jobs2.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q -- '--jobs loads the files in no set order: not with mode truncate' "$err" &&
  [ "$(sql 'SELECT count(*) FROM jobs_t')" = 99980 ] && ok || bad "--jobs --mode truncate: exit $st: $(cat "$err")"
# With the ledger, one content under two names in one --jobs run is one
# load: the second waits for the first's COMMIT, then finds it and skips.
sql "CREATE TABLE jobs3_t (id int, v text NOT NULL)"   # (no key to make the second wait)
cp "$tmp/jobs1.csv" "$tmp/jobs1-again.csv"
cs -d "$dsn" -t jobs3_t --jobs 2 --ledger -r "$tmp/jobs3.rej" "$tmp/jobs1.csv" "$tmp/jobs1-again.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT count(*) FROM jobs3_t')" = 20000 ] &&
  [ "$(grep -c 'already loaded on .*: skipped' "$err")" = 1 ] &&
  [ "$(sql "SELECT count(*) FROM csvstage.loads WHERE target = 'public.jobs3_t'")" = 1 ] &&
  ok || bad "--jobs --ledger, one content twice: exit $st: $(cat "$err")"
# The run's lock is held by the run: while its workers load, each holds
# its share (the session that took it has let go), and a second run exits
# 75. A worker killed mid-load loses its own file (rolled back, exit 1);
# the other file commits.
sql "CREATE TABLE jobs2_t (id int PRIMARY KEY, v text NOT NULL)"
hold jobs2_t
"$bin" -d "$dsn" -t jobs2_t --jobs 2 -r "$tmp/jobs2.rej" "$tmp/jobs1.csv" "$tmp/jobs2.csv" 2>"$err" &
pid=$!
wait_for "SELECT (count(*) = 2)::int FROM pg_stat_activity WHERE application_name = 'csvstage' AND wait_event = 'PgSleep'"
locks=$(sql "SELECT string_agg(objsubid || ':' || mode, ' ' ORDER BY objsubid, mode) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = 'jobs2_t'::regclass::oid")
"$bin" -d "$dsn" -t jobs2_t "$tmp/jobs3.csv" 2>"$tmp/err2"; st2=$?
victim=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'csvstage' AND wait_event = 'PgSleep' ORDER BY pid LIMIT 1")
sql "SELECT pg_terminate_backend($victim)" >/dev/null
release jobs2_t
wait $pid; st=$?
[ "$locks" = "2:ShareLock 2:ShareLock" ] && [ $st2 -eq 75 ] && [ $st -eq 1 ] &&
  [ "$(grep -c 'jobs[12].csv -> public.jobs2_t: 20000 records, 20000 loaded' "$err")" = 1 ] &&
  [ "$(sql 'SELECT count(*) FROM jobs2_t')" = 20000 ] &&
  [ "$(sql 'SELECT count(DISTINCT id / 100000) FROM jobs2_t')" = 1 ] &&
  ok || bad "--jobs: the lock held once ($locks), a second run ($st2), a killed worker (exit $st): $(cat "$err" "$tmp/err2")"
sql "DROP TRIGGER held ON jobs2_t"
# The run's lock outlives the session that took it: with an idle timeout
# that ends that session (and pg_terminate_backend of whatever is idle), a
# second run still exits 75 while the workers load, and the first loads
# both files.
sql "TRUNCATE jobs2_t"
hold jobs2_t
PGOPTIONS='-c idle_in_transaction_session_timeout=300' "$bin" -d "$dsn" -t jobs2_t --jobs 2 \
  -r "$tmp/jobs2.rej" "$tmp/jobs1.csv" "$tmp/jobs2.csv" 2>"$err" &
pid=$!
wait_for "SELECT (count(*) = 2)::int FROM pg_stat_activity WHERE application_name = 'csvstage' AND wait_event = 'PgSleep'"
sleep 1
"$bin" -d "$dsn" -t jobs2_t "$tmp/jobs3.csv" 2>"$tmp/err2"; st2=$?
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'csvstage' AND state LIKE 'idle%'" >/dev/null
"$bin" -d "$dsn" -t jobs2_t "$tmp/jobs3.csv" 2>"$tmp/err3"; st3=$?
release jobs2_t
wait $pid; st=$?
[ $st2 -eq 75 ] && [ $st3 -eq 75 ] && [ $st -eq 0 ] && [ "$(sql 'SELECT count(*) FROM jobs2_t')" = 40000 ] &&
  ok || bad "--jobs, the lock's session ended: second runs $st2 and $st3, the run $st: $(cat "$err" "$tmp/err2" "$tmp/err3")"
sql "DROP TRIGGER held ON jobs2_t"

# SIGINT and SIGTERM during a load: canceled on the server, rolled back,
# no reject file left behind, no backend left, exit 128 + the signal.
sql "CREATE TABLE sig_t (id int PRIMARY KEY, v text NOT NULL)"
seq 1 1000000 | awk 'BEGIN { print "id,v" } { print $1 ",value " $1 }' >"$tmp/big.csv"
hold sig_t
for sig in INT TERM; do
  "$bin" -d "$dsn" -t sig_t -r "$tmp/sig.csv" "$tmp/big.csv" 2>"$err" &
  pid=$!
  held
  kill -$sig $pid
  wait $pid; st=$?
  want=$([ $sig = INT ] && echo 130 || echo 143)
  sleep 0.3
  [ $st -eq $want ] && grep -q 'interrupted: .*big.csv rolled back, nothing of it committed' "$err" &&
    [ "$(sql 'SELECT count(*) FROM sig_t')" = 0 ] &&
    [ -z "$(ls "$tmp" | grep '^sig.csv')" ] &&
    [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csvstage'")" = 0 ] \
    && ok || bad "SIG$sig: exit $st, want $want: $(cat "$err"; ls "$tmp")"
done
# Two real runs on one table: the second exits 75 at once, naming the
# first's backend; the first loads everything.
"$bin" -d "$dsn" -t sig_t -r "$tmp/sig.csv" "$tmp/big.csv" 2>"$tmp/first.err" &
first=$!
held
printf 'id,v\n2000001,late\n' >"$tmp/late.csv"
"$bin" -d "$dsn" -t sig_t -r "$tmp/late.rej" "$tmp/late.csv" 2>"$err"; st=$?
release sig_t
wait $first; st1=$?
[ $st -eq 75 ] && grep -q 'another csvstage run (backend pid [0-9]*) is loading public.sig_t' "$err" &&
  [ $st1 -eq 0 ] && [ "$(sql 'SELECT count(*) FROM sig_t')" = 1000000 ] \
  && ok || bad "concurrent runs: exit $st and $st1: $(cat "$err" "$tmp/first.err")"

# Server faults mid-load: the backend terminated, the server stopped fast
# and immediately. Exit 1, the loss said, nothing committed, no reject file
# left; after a restart the same command loads everything.
sql "CREATE TABLE fault_t (id int PRIMARY KEY, v text NOT NULL)"
faults="terminate fast immediate"
if [ -z "${CSVSTAGE_TEST_DIR:-}" ]; then
  # Never stop a server the tests did not start.
  echo "load-cli: the server stop faults did not run: CSVSTAGE_TEST_DSN names a server the tests do not own"
  faults=terminate
fi
hold fault_t
for fault in $faults; do
  "$bin" -d "$dsn" -t fault_t -r "$tmp/fault.csv" "$tmp/big.csv" 2>"$err" &
  pid=$!
  held
  case $fault in
    terminate) sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'csvstage'" >/dev/null ;;
    *) "$src/tests/pg-harness" stop "$CSVSTAGE_TEST_DIR" $fault ;;
  esac
  wait $pid; st=$?
  [ $fault = terminate ] || "$src/tests/pg-harness" start "$CSVSTAGE_TEST_DIR"
  [ $st -eq 1 ] && grep -q 'the connection to the server was lost while loading .*big.csv (.*): nothing of it was committed' "$err" &&
    [ "$(sql 'SELECT count(*) FROM fault_t')" = 0 ] && [ -z "$(ls "$tmp" | grep '^fault.csv')" ] \
    && ok || bad "$fault mid-load: exit $st: $(cat "$err"; ls "$tmp")"
done
release fault_t
cs -d "$dsn" -t fault_t -r "$tmp/fault.csv" "$tmp/big.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT count(*) FROM fault_t')" = 1000000 ] && ok || bad "after the faults: exit $st: $(cat "$err")"
# Until SQL returns 1: for a background load to reach a point. Not within
# 30 s is a failure: the test after it would not test what it says.
at_commit="SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csvstage' AND query = 'COMMIT'"
if [ -n "${CSVSTAGE_TEST_DIR:-}" ]; then
  # The backend killed during the careful path's INSERT (a rule keeps the
  # records off the fast path; a statement trigger holds the INSERT while
  # the table `hold` has a row): exit 1, nothing committed.
  sql "CREATE TABLE hold (); INSERT INTO hold DEFAULT VALUES;
       CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS
         'BEGIN IF EXISTS (SELECT FROM hold) THEN PERFORM pg_sleep(60); END IF; RETURN NULL; END';
       CREATE TABLE ins_t (id int PRIMARY KEY, v text NOT NULL);
       CREATE RULE never AS ON INSERT TO ins_t WHERE NEW.id < 0 DO INSTEAD NOTHING;
       CREATE TRIGGER hold BEFORE INSERT ON ins_t FOR EACH STATEMENT EXECUTE FUNCTION hold()"
  "$bin" -d "$dsn" -t ins_t -r "$tmp/ins.rej" "$tmp/late.csv" 2>"$err" &
  pid=$!
  wait_for "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csvstage' AND query LIKE 'INSERT INTO%' AND wait_event = 'PgSleep'"
  sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'csvstage'" >/dev/null
  wait $pid; st=$?
  [ $st -eq 1 ] && grep -q 'the connection to the server was lost while loading .*late.csv (.*): nothing of it was committed' "$err" &&
    [ "$(sql 'SELECT count(*) FROM ins_t')" = 0 ] && [ ! -e "$tmp/ins.rej" ] \
    && ok || bad "killed during the INSERT: exit $st: $(cat "$err")"

  # Lost during COMMIT. The server holds COMMIT while it waits for a
  # synchronous standby that does not exist (this run alone asks for one:
  # the harness turns synchronous_commit off); the commit is already done
  # locally then. Its backend killed: a new connection finds it committed
  # (exit 3, the rows and the reject file there).
  sql "CREATE TABLE commit_t (id int PRIMARY KEY, v text NOT NULL)"
  { echo id,v; seq 1 1000 | sed 's/$/,x/'; echo 1001,; } >"$tmp/commit.csv"
  sql "ALTER SYSTEM SET synchronous_standby_names = 'nosuch'" && sql "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5   # the reload reaches new backends a moment later
  PGOPTIONS='-c synchronous_commit=on' "$bin" -d "$dsn" -t commit_t -r "$tmp/commit.rej" \
    --summary-json "$tmp/commit.json" "$tmp/commit.csv" 2>"$err" &
  pid=$!
  wait_for "$at_commit AND wait_event = 'SyncRep'"
  sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'csvstage'" >/dev/null
  wait $pid; st=$?
  [ $st -eq 3 ] && grep -q 'commit.csv -> public.commit_t: 1001 records, 1000 loaded, 1 rejected, .*; the connection was lost during COMMIT; a new one found it committed' "$err" &&
    [ "$(sql 'SELECT count(*) FROM commit_t')" = 1000 ] && grep -q '^1002,23502,v,' "$tmp/commit.rej" &&
    tr -d ' \n' <"$tmp/commit.json" | grep -q '"committed":true,.*"outcome_unknown":false' \
    && ok || bad "answer to COMMIT lost: exit $st: $(cat "$err")"

  # The same for --single-transaction's COMMIT: found committed, both files in.
  sql "CREATE TABLE commit2_t (id int PRIMARY KEY)"
  printf 'id\n1\n2\n' >"$tmp/c1.csv"; printf 'id\n3\n' >"$tmp/c2.csv"
  PGOPTIONS='-c synchronous_commit=on' "$bin" -d "$dsn" -t commit2_t --single-transaction \
    "$tmp/c1.csv" "$tmp/c2.csv" 2>"$err" &
  pid=$!
  wait_for "$at_commit AND wait_event = 'SyncRep'"
  sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'csvstage'" >/dev/null
  wait $pid; st=$?
  [ $st -eq 0 ] && grep -q "committed the run's 2 files" "$err" &&
    [ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM commit2_t')" = "1,2,3" ] \
    && ok || bad "--single-transaction, answer to COMMIT lost: exit $st: $(cat "$err")"

  # The same, the server stopped (immediate) and not back within 10 s:
  # unknown, said with the transaction's id; not retried; the reject file
  # kept. Back up, the server says it did commit (the commit record was on
  # disk): the kept rejects are the only record of what did not go in.
  sql "TRUNCATE commit_t"
  rm -f "$tmp/commit.rej"
  PGOPTIONS='-c synchronous_commit=on' "$bin" -d "$dsn" -t commit_t -r "$tmp/commit.rej" --retry 2 \
    --summary-json "$tmp/commit.json" "$tmp/commit.csv" 2>"$err" &
  pid=$!
  wait_for "$at_commit AND wait_event = 'SyncRep'"
  "$src/tests/pg-harness" stop "$CSVSTAGE_TEST_DIR" immediate
  wait $pid; st=$?
  "$src/tests/pg-harness" start "$CSVSTAGE_TEST_DIR"
  xid=$(sed -n 's/.*SELECT txid_status(\([0-9]*\)).*/\1/p' "$err")
  [ $st -eq 1 ] && grep -q "lost during COMMIT (.*) and no server answered for 10 s: whether the load of .*commit.csv committed is unknown; ask with SELECT txid_status([0-9]*) ('committed' or 'aborted'); its rejects, in case it did: $tmp/commit.rej" "$err" &&
    ! grep -q retrying "$err" && grep -q '^1002,23502,v,' "$tmp/commit.rej" &&
    tr -d ' \n' <"$tmp/commit.json" | grep -q '"committed":false,.*"outcome_unknown":true' &&
    [ "$(sql "SELECT txid_status(${xid:-0})")" = committed ] && [ "$(sql 'SELECT count(*) FROM commit_t')" = 1000 ] \
    && ok || bad "COMMIT lost, no server: exit $st: $(cat "$err")"
  # ... and SIGINT while csvstage waits for a server to ask: noted, not
  # acted on (COMMIT was sent): still unknown, never "rolled back", exit 1.
  sql "TRUNCATE commit_t"
  PGOPTIONS='-c synchronous_commit=on' "$bin" -d "$dsn" -t commit_t -r "$tmp/commit.rej" "$tmp/commit.csv" 2>"$err" &
  pid=$!
  wait_for "$at_commit AND wait_event = 'SyncRep'"
  "$src/tests/pg-harness" stop "$CSVSTAGE_TEST_DIR" immediate
  sleep 1
  kill -INT $pid
  wait $pid; st=$?
  "$src/tests/pg-harness" start "$CSVSTAGE_TEST_DIR"
  [ $st -eq 1 ] && grep -q "whether the load of .*commit.csv committed is unknown" "$err" &&
    ! grep -q "rolled back" "$err" && ok || bad "SIGINT after a lost COMMIT: exit $st: $(cat "$err")"

  # SIGTERM while COMMIT is under way: noted, not acted on; the reject file
  # is in place before COMMIT is sent. A second SIGTERM cancels the wait
  # for the standby (committed here): exit 3, the rows and rejects there,
  # and the JSON says committed.
  sql "TRUNCATE commit_t"
  rm -f "$tmp"/commit.rej*
  PGOPTIONS='-c synchronous_commit=on' "$bin" -d "$dsn" -t commit_t -r "$tmp/commit.rej" \
    --summary-json "$tmp/commit.json" "$tmp/commit.csv" 2>"$err" &
  pid=$!
  wait_for "$at_commit AND wait_event = 'SyncRep'"
  placed=$(grep -c '^1002,23502,v,' "$tmp/commit.rej" 2>/dev/null)
  kill -TERM $pid
  sleep 1
  alive=$(kill -0 $pid 2>/dev/null && echo yes)
  kill -TERM $pid
  wait $pid; st=$?
  [ "$placed" = 1 ] && [ "$alive" = yes ] && [ $st -eq 3 ] &&
    grep -q 'commit.csv -> public.commit_t: 1001 records, 1000 loaded, 1 rejected' "$err" &&
    [ "$(sql 'SELECT count(*) FROM commit_t')" = 1000 ] && grep -q '^1002,23502,v,' "$tmp/commit.rej" &&
    tr -d ' \n' <"$tmp/commit.json" | grep -q '"committed":true' &&
    [ "$(ls "$tmp" | grep -c '^commit.rej')" = 1 ] \
    && ok || bad "SIGTERM during COMMIT: placed $placed, alive $alive, exit $st: $(cat "$err"; ls "$tmp")"
  sql "ALTER SYSTEM RESET synchronous_standby_names" && sql "SELECT pg_reload_conf()" >/dev/null
fi
# --retry: the server goes away mid-load and comes back; the file is loaded
# again from the start, once, all of it.
if [ -n "${CSVSTAGE_TEST_DIR:-}" ]; then
  sql "CREATE TABLE retry_t (id int PRIMARY KEY, v text NOT NULL)"
  hold retry_t
  "$bin" -d "$dsn" -t retry_t -r "$tmp/retry.csv" --retry 5 "$tmp/big.csv" 2>"$err" &
  pid=$!
  held
  "$src/tests/pg-harness" stop "$CSVSTAGE_TEST_DIR" fast
  sleep 2
  "$src/tests/pg-harness" start "$CSVSTAGE_TEST_DIR"
  release retry_t
  wait $pid; st=$?
  [ $st -eq 0 ] && grep -q 'retrying .*big.csv in 1 s (retry 1 of 5)' "$err" &&
    [ "$(sql 'SELECT count(*) FROM retry_t')" = 1000000 ] \
    && ok || bad "--retry: exit $st: $(cat "$err")"
fi
# --retry never reads a pipe again: what was read of it is gone, so the
# rest would be loaded as the whole file. Backend terminated mid-load:
# exit 1, nothing committed, not retried, said why.
if [ -n "${CSVSTAGE_TEST_DIR:-}" ]; then
  sql "TRUNCATE retry_t"
  mkfifo "$tmp/fifo"
  for how in fifo stdin; do
    hold retry_t
    if [ $how = fifo ]; then
      cat "$tmp/big.csv" >"$tmp/fifo" &
      "$bin" -d "$dsn" -t retry_t -r "$tmp/retry.rej" --retry 3 "$tmp/fifo" 2>"$err" &
    else
      cat "$tmp/big.csv" | "$bin" -d "$dsn" -t retry_t -r "$tmp/retry.rej" --retry 3 - 2>"$err" &
    fi
    pid=$!
    held
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'csvstage'" >/dev/null
    release retry_t
    wait $pid; st=$?
    [ $st -eq 1 ] && grep -q 'is not a regular file (standard input, a pipe or a FIFO): it cannot be read again from its start, so it is not retried; nothing of it was committed' "$err" &&
      ! grep -q retrying "$err" && [ "$(sql 'SELECT count(*) FROM retry_t')" = 0 ] \
      && ok || bad "--retry, $how: exit $st: $(cat "$err")"
    wait
  done
  sql "DROP TRIGGER held ON retry_t"
fi
# A lock timeout is no record's fault: another session holds a SHARE lock,
# lock_timeout ends the wait: exit 1, nothing committed, nothing rejected,
# the ledger does not have it.
sql "CREATE TABLE lockto_t (id int PRIMARY KEY, v text NOT NULL)"
printf 'id,v\n1,a\n2,\n3,c\n' >"$tmp/lockto.csv"
psql -X -q "$dsn" -c "BEGIN" -c "LOCK TABLE lockto_t IN SHARE MODE" -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null &
locker=$!
wait_for "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'lockto_t' AND l.mode = 'ShareLock' AND l.granted"
PGOPTIONS='-c lock_timeout=300' "$bin" -d "$dsn" -t lockto_t -r "$tmp/lockto.rej" --ledger "$tmp/lockto.csv" 2>"$err"; st=$?
wait $locker
[ $st -eq 1 ] && grep -q "lockto.csv: the server could not go on (.*SQLSTATE 55P03): no record's fault, so nothing was rejected and nothing of it was committed" "$err" &&
  [ "$(sql 'SELECT count(*) FROM lockto_t')" = 0 ] && [ ! -e "$tmp/lockto.rej" ] &&
  [ "$(sql "SELECT count(*) FROM csvstage.loads WHERE target = 'public.lockto_t'")" = 0 ] \
  && ok || bad "lock timeout: exit $st: $(cat "$err")"
cs -d "$dsn" -t lockto_t -r "$tmp/lockto.rej" "$tmp/lockto.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT count(*) FROM lockto_t')" = 2 ] && ok || bad "lock timeout, then again: exit $st: $(cat "$err")"

# The reject file is put in place before COMMIT: its directory removed
# during the load, the load rolls back, naming the path. SIGKILL leaves no
# temporary file in the reject directory.
sql "CREATE TABLE rejdir_t (id int PRIMARY KEY, v text NOT NULL)"
hold rejdir_t
for how in removed killed; do
  mkdir -p "$tmp/rd"
  "$bin" -d "$dsn" -t rejdir_t -r "$tmp/rd/r.csv" "$tmp/lockto.csv" 2>"$err" &
  pid=$!
  held
  if [ $how = removed ]; then rm -rf "$tmp/rd"; else kill -KILL $pid; fi
  release rejdir_t
  wait $pid; st=$?
  if [ $how = removed ]; then
    [ $st -eq 1 ] && grep -q "cannot put the reject file in place at $tmp/rd/r.csv: No such file or directory" "$err" &&
      grep -q 'r.csv: No such file or directory: nothing of it was committed' "$err" &&
      [ "$(sql 'SELECT count(*) FROM rejdir_t')" = 0 ] && ok || bad "reject directory removed: exit $st: $(cat "$err")"
  else
    [ $st -eq 137 ] && [ -z "$(ls -A "$tmp/rd")" ] && [ "$(sql 'SELECT count(*) FROM rejdir_t')" = 0 ] &&
      ok || bad "SIGKILL: exit $st, left: $(ls -A "$tmp/rd")"
  fi
  hold rejdir_t
done
release rejdir_t
sql "DROP TRIGGER held ON rejdir_t"

cs -d "$dsn" -t retry_t --retry=many "$tmp/big.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "invalid --retry 'many'" "$err" && ok || bad "--retry=many: exit $st"

# Bad input: each gets a clear verdict, and the table only what is right.
sql "CREATE TABLE bad_t (id int, name text)"
bad_input() {   # NAME WANT_STATUS GREP_PATTERN: loads $tmp/NAME into bad_t
  cs -d "$dsn" -t bad_t -r "$tmp/bad.rej" "$tmp/$1" 2>"$err"; st=$?
  [ $st -eq "$2" ] && grep -q "$3" "$err" && ok || bad "bad input $1: exit $st, want $2: $(cat "$err")"
}
: >"$tmp/empty.csv"; bad_input empty.csv 0 'empty.csv -> public.bad_t: 0 records, 0 loaded, 0 rejected'
printf 'id,name\n' >"$tmp/header.csv"; bad_input header.csv 0 'header.csv -> public.bad_t: 0 records'
head -c 3000 /dev/urandom >"$tmp/binary.csv"; printf '\377\376' | dd of="$tmp/binary.csv" conv=notrunc 2>/dev/null
bad_input binary.csv 1 'binary.csv:1: cannot read the header'
# A repeated name is named as DuckDB names it (id_1), and then feeds nothing.
printf 'id,id\n1,2\n' >"$tmp/dupnames.csv"; bad_input dupnames.csv 2 'no column of table public.bad_t for CSV column "id_1"'
printf 'id,name\n1,a' >"$tmp/nonewline.csv"; bad_input nonewline.csv 0 '1 record, 1 loaded'
printf 'id,name\n2,caf\351\n3,ok\n' >"$tmp/latin1.csv"; bad_input latin1.csv 3 'latin1.csv:2: invalid byte sequence for encoding "UTF8": 0xe9'
printf 'name); DROP TABLE bad_t; --,id\nx,4\n' >"$tmp/hostile.csv"
bad_input hostile.csv 2 'no column of table public.bad_t for CSV column "name); DROP TABLE bad_t; --"'
[ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM bad_t')" = "1,3" ] && ok || bad "bad input: rows"
# A cut or damaged gzip stream: 1, the line it breaks in named, nothing
# committed (the lines before it were read: the line number says so).
seq 5 30004 | sed '1i id,name' | sed '2,$s/$/,x/' | gzip >"$tmp/whole.csv.gz"
head -c 40000 "$tmp/whole.csv.gz" >"$tmp/cut.csv.gz"
cutline=$(($(gzip -dc "$tmp/cut.csv.gz" 2>/dev/null | wc -l) + 1))
bad_input cut.csv.gz 1 "cut.csv.gz:$cutline: truncated gzip data: the stream ends at byte 40000 before its end marker"
cp "$tmp/whole.csv.gz" "$tmp/damaged.csv.gz"
printf 'XXXXXXXX' | dd of="$tmp/damaged.csv.gz" bs=1 seek=20000 conv=notrunc 2>/dev/null
bad_input damaged.csv.gz 1 'damaged.csv.gz:[0-9]*: corrupt gzip data near byte [0-9]*: '
[ "$(sql 'SELECT count(*) FROM bad_t')" = 2 ] && ok || bad "a broken gzip stream committed rows"
# zstd, xz, bzip2 and zip: known by content whatever the name; each loads
# the rows the plain file loads; a cut or damaged stream is exit 1 naming
# the line and the compressed byte, nothing committed.
awk 'BEGIN { srand(7); print "id,name"; for (i = 1; i <= 200000; i++) printf "%d,%x%x\n", i, rand() * 2^31, rand() * 2^31 }' >"$tmp/rand.csv"
sql "CREATE TABLE comp_t (id int PRIMARY KEY, name text NOT NULL)"
cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" "$tmp/rand.csv" 2>"$err" && ok || bad "plain rand.csv: $(cat "$err")"
plainsum=$(sql 'SELECT md5(string_agg(id || $$,$$ || name, $$;$$ ORDER BY id)) FROM comp_t')
(cd "$tmp" && zstd -q -c rand.csv >rand.zst && xz -c rand.csv >rand.xz && bzip2 -c rand.csv >rand.bz2 &&
 zip -q rand.zip rand.csv && cp rand.csv other.csv && zip -q two.zip rand.csv other.csv)
for f in zst xz bz2 zip; do
  case $f in zst) kind=zstd ;; bz2) kind=bzip2 ;; *) kind=$f ;; esac
  sql "TRUNCATE comp_t"
  cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" "$tmp/rand.$f" 2>"$err"; st=$?
  [ $st -eq 0 ] && [ "$(sql 'SELECT md5(string_agg(id || $$,$$ || name, $$;$$ ORDER BY id)) FROM comp_t')" = "$plainsum" ] &&
    ok || bad "$kind: exit $st or other rows than the plain file's: $(cat "$err")"
  sql "TRUNCATE comp_t"
  cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" - <"$tmp/rand.$f" 2>"$err"; st=$?
  n=$(sql 'SELECT count(*) FROM comp_t')
  [ $st -eq 0 ] && [ "$n" = 200000 ] && ok || bad "$kind from stdin: exit $st, $n rows: $(cat "$err")"
  sql "TRUNCATE comp_t"
  size=$(stat -c %s "$tmp/rand.$f")
  head -c $((size * 3 / 4)) "$tmp/rand.$f" >"$tmp/cut.$f"
  cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" "$tmp/cut.$f" 2>"$err"; st=$?
  [ $st -eq 1 ] && grep -q "cut.$f:\([0-9]*:\)\? \(truncated or \)\?corrupt $kind data" "$err" &&
    [ "$(sql 'SELECT count(*) FROM comp_t')" = 0 ] && ok || bad "cut $kind: exit $st: $(cat "$err")"
  cp "$tmp/rand.$f" "$tmp/damaged.$f"
  printf 'XXXXXXXXXXXXXXXX' | dd of="$tmp/damaged.$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
  cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" "$tmp/damaged.$f" 2>"$err"; st=$?
  [ $st -eq 1 ] && grep -q "damaged.$f:[0-9][0-9]*: .*$kind data.* byte [0-9]" "$err" &&
    [ "$(sql 'SELECT count(*) FROM comp_t')" = 0 ] && ok || bad "damaged $kind: exit $st: $(cat "$err")"
done
# An empty file, compressed: no records, as the plain empty file.
for f in zst xz bz2; do
  case $f in zst) c="zstd -q -c" ;; xz) c="xz -c" ;; bz2) c="bzip2 -c" ;; esac
  : | $c >"$tmp/empty.csv.$f"
  cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" "$tmp/empty.csv.$f" 2>"$err"; st=$?
  [ $st -eq 0 ] && grep -q "empty.csv.$f -> public.comp_t: 0 records" "$err" && ok || bad "empty $f: exit $st: $(cat "$err")"
done
# The samples of files as people write them: a German export (semicolons,
# day-first dates, decimal commas, ja/nein) and a US one (month-first dates
# with AM/PM, thousands commas, Y/N): what fits loads exactly, what does not
# is rejected at its line, never misread.
sql "$(cat "$src/schemas/orders.sql")"
cs -d "$dsn" -c "$src/samples/orders-de.conf" -r "$tmp/orders-de.rejects.csv" "$src/samples/orders-de.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql "SELECT string_agg(concat_ws(' ', id, ordered_at, amount, quantity, paid), '; ' ORDER BY id) FROM orders")" = \
  "1 2024-12-31 23:15:00 1234.50 1000 t; 2 2025-02-01 08:00:00 99.90 12 f; 8 2025-03-19 07:45:00 2000000.00 10000 t" ] &&
  [ "$(cut -d';' -f1-3 "$tmp/orders-de.rejects.csv" | head -6 | tr '\n' ' ')" = "_line;_sqlstate;_column 4;22008;ordered_at 5;22P02;amount 6;22P02;amount 7;22P02;paid 8;23514; " ] &&
  grep -q 'orders-de.csv:5: invalid input syntax for type numeric: "1.5"' "$err" &&
  ok || bad "German sample: exit $st: $(cat "$err")"
cs -d "$dsn" -c "$src/samples/orders-us.conf" -r "$tmp/orders-us.rejects.csv" "$src/samples/orders-us.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql "SELECT string_agg(concat_ws(' ', id, ordered_at, amount, quantity, paid), '; ' ORDER BY id) FROM orders WHERE id > 10")" = \
  "11 2024-12-31 23:15:00 1234.50 1 t; 12 2025-01-02 08:00:00 99.90 12000 f" ] &&
  [ "$(cut -d, -f1-3 "$tmp/orders-us.rejects.csv" | tr '\n' ' ')" = "_line,_sqlstate,_column 4,22008,ordered_at 5,22P02,amount 6,22008,ordered_at 7,22P02,amount 8,22007,ordered_at " ] &&
  grep -q 'orders-us.csv:8: invalid input syntax for type timestamp: "3/18/2025 9:00 AM"' "$err" &&
  ok || bad "US sample: exit $st: $(cat "$err")"
# Date formats on the command line: a pattern alone is [source]'s (the
# columns of its kind), COLUMN=PATTERN a column's own; --timezone the zone of
# timestamptz values without an offset.
sql "CREATE TABLE dates_cli (id int, d date, ts timestamptz)"
printf 'id,d,ts\n1,31.12.2024,12/31/2024 11:15 PM\n2,1.2.2024,12/31/2024 11:15 PM\n3,31.12.2024,12/31/2024 11:15\n' >"$tmp/dates.csv"
cs -d "$dsn" -t dates_cli -r "$tmp/dates.rej" --format DD.MM.YYYY --format 'ts=MM/DD/YYYY HH12:MI AM' \
  --timezone America/New_York "$tmp/dates.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql "SELECT string_agg(concat_ws(' ', id, d, ts AT TIME ZONE 'UTC'), '; ') FROM dates_cli")" = \
  "1 2024-12-31 2025-01-01 04:15:00" ] &&
  grep -q 'dates.csv:3: invalid input syntax for type date: "1.2.2024"' "$err" &&
  grep -q 'dates.csv:4: invalid input syntax for type timestamp with time zone: "12/31/2024 11:15"' "$err" &&
  ok || bad "--format/--timezone: exit $st: $(cat "$err")"
cs -d "$dsn" -t dates_cli --format 'DD.MM' "$tmp/dates.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "format 'DD.MM': a date needs a year" "$err" && ok || bad "--format DD.MM: exit $st: $(cat "$err")"
# csvstage rejects --html: one self-contained page; every value in it is
# text (a hostile value shows as itself, never as markup); in a real browser
# (chromium, headless) the page runs with no console error, shows as many
# rows as the reject file holds, marks the rejected column, and the filter
# narrows the rows.
sql "CREATE TABLE html_t (id int PRIMARY KEY, name text CHECK (name <> 'no' AND strpos(name, '<') = 0))"
printf 'id,name\n1,<img src=x onerror=alert(1)>\n2,"</script><script>alert(2)</script>"\nx,ok\n3,no\n4,"a\n' >"$tmp/html.csv"
cs -d "$dsn" -t html_t -r "$tmp/html.rej" "$tmp/html.csv" 2>"$err"; st=$?
"$bin" rejects --html "$tmp/page.html" "$tmp/html.rej" 2>"$err"; st2=$?
[ $st -eq 3 ] && [ $st2 -eq 0 ] && ! grep -q '<img' "$tmp/page.html" &&
  grep -q '&lt;img src=x onerror=alert(1)&gt;' "$tmp/page.html" &&
  [ "$(grep -o '<script>' "$tmp/page.html" | wc -l)" = 1 ] &&
  [ "$(grep -c '^<tr class="r"' "$tmp/page.html")" = 5 ] && ! grep -q 'src="http\|href="http' "$tmp/page.html" &&
  ok || bad "rejects --html: exit $st/$st2: $(cat "$err")"
# A constraint's columns are marked too: the key a DETAIL names (unique,
# foreign key), the column of a CHECK PostgreSQL named itself.
sql "CREATE TABLE html2_t (id int PRIMARY KEY, code text UNIQUE, qty int CHECK (qty > 0))"
printf 'id,code,qty\n1,a,1\n2,a,1\n3,b,-1\n' >"$tmp/html2.csv"
cs -d "$dsn" -t html2_t -r "$tmp/html2.rej" "$tmp/html2.csv" 2>"$err"; st=$?
"$bin" rejects --html "$tmp/page2.html" "$tmp/html2.rej" 2>"$err"; st2=$?
[ $st -eq 3 ] && [ $st2 -eq 0 ] && [ "$(grep -o '<td class="bad">[^<]*</td>' "$tmp/page2.html" | tr '\n' ' ')" = \
  '<td class="bad">a</td> <td class="bad">-1</td> ' ] &&
  ok || bad "rejects --html, a constraint's columns: exit $st/$st2: $(cat "$err"; grep -o '<table class="rec">.*</table>' "$tmp/page2.html")"
if command -v chromium >/dev/null; then
  browse() {   # URL: the page's DOM after its script ran; console lines in $tmp/console
    timeout 120 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
      --user-data-dir="$tmp/chromium" --dump-dom "$1" 2>"$tmp/console"
  }
  dom=$(browse "file://$tmp/page.html")
  [ "$(printf '%s' "$dom" | grep -o '<tr class="r"[^>]*>' | grep -vc 'display: none')" = 5 ] &&
    [ "$(printf '%s' "$dom" | grep -o '<span id="shown">[0-9]*' | grep -o '[0-9]*$')" = 5 ] &&
    printf '%s' "$dom" | grep -q '<td class="bad">x</td>' &&
    printf '%s' "$dom" | grep -q '&lt;img src=x onerror=alert(1)&gt;' &&
    ! printf '%s' "$dom" | grep -q '<img' && ! grep -q 'CONSOLE' "$tmp/console" &&
    ok || bad "rejects --html in chromium: $(grep CONSOLE "$tmp/console")"
  dom=$(browse "file://$tmp/page.html#kind=22P02%20column%20id")
  [ "$(printf '%s' "$dom" | grep -o '<tr class="r"[^>]*>' | grep -vc 'display: none')" = 1 ] &&
    [ "$(printf '%s' "$dom" | grep -o '<span id="shown">[0-9]*' | grep -o '[0-9]*$')" = 1 ] &&
    ok || bad "rejects --html in chromium: the kind filter did not narrow the rows"
  dom=$(browse "file://$tmp/page.html#q=unterminated")
  [ "$(printf '%s' "$dom" | grep -o '<tr class="r"[^>]*>' | grep -vc 'display: none')" = 1 ] &&
    printf '%s' "$dom" | grep -q '<pre class="raw">4,"a' &&
    ok || bad "rejects --html in chromium: the search did not narrow the rows to the malformed record"
else
  echo "load-cli: the browser tests of rejects --html did not run: no chromium (./bootstrap check installs it)"
fi
# Rejects that explain their own fix: decimal commas, a NULL marker and
# words for booleans, each proposed as the config that reads them, tried on
# the rejected values first; that config then loads the reject file.
sql "CREATE TABLE fix_t (id int PRIMARY KEY, amount numeric(10,2), qty int, paid boolean)"
printf 'id,amount,qty,paid\n1,"1.234,50",1,t\n2,"99,90",2,f\n3,"7,25",3,t\n4,12,N/A,t\n5,1,-,f\n6,3,4,ja\n7,4,5,nein\n8,5,6,vielleicht\n' >"$tmp/fix.csv"
cs -d "$dsn" -t fix_t -r "$tmp/fix.rej" "$tmp/fix.csv" 2>"$err"
"$bin" rejects -t fix_t "$tmp/fix.rej" >"$tmp/fix.out" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^  \[column "amount"\]   ; reads 3 of column amount.s 3 rejected values$' "$tmp/fix.out" &&
  grep -A2 '^  \[column "amount"\]' "$tmp/fix.out" | grep -q '^  thousands = \.$' &&
  grep -A1 '^  \[column "qty"\]' "$tmp/fix.out" | grep -q '^  nullif = "N/A", "-"$' &&
  grep -q '^  \[column "paid"\]   ; reads 2 of column paid.s 3 rejected values$' "$tmp/fix.out" &&
  grep -A2 '^  \[column "paid"\]' "$tmp/fix.out" | grep -q '^  false = "nein"$' &&
  ok || bad "rejects, fixes: exit $st: $(cat "$tmp/fix.out" "$err")"
printf '[column "amount"]\ndecimal = ","\nthousands = .\n[column "qty"]\nnullif = "N/A", "-"\n[column "paid"]\ntrue = "ja"\nfalse = "nein"\n' >"$tmp/fix.conf"
cs -d "$dsn" -t fix_t -c "$tmp/fix.conf" -r "$tmp/fix2.rej" "$tmp/fix.rej" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT string_agg(concat_ws($$ $$, id, amount, qty, paid), $$; $$ ORDER BY id) FROM fix_t')" = \
  "1 1234.50 1 t; 2 99.90 2 f; 3 7.25 3 t; 4 12.00 t; 5 1.00 f; 6 3.00 4 t; 7 4.00 5 f" ] &&
  [ "$(cut -d, -f1-3 "$tmp/fix2.rej" | tail -n +2)" = "9,22P02,paid" ] &&
  ok || bad "the proposed config on the reject file: exit $st: $(cat "$err")"
# csvstage init FILE, no table, no server: the dialect and the types,
# sniffed; the config it writes (the table named) loads the file into a
# table of those types without a reject.
printf 'Nr;Kunde;Bestellt;Betrag;Menge;Bezahlt\n1;M\303\274ller GmbH;31.12.2024 23:15;1.234,50;1.000;ja\n2;Sch\303\244fer;01.02.2025 08:00;99,90;12;nein\n3;Wei\303\237 AG;28.02.2025 10:00;10,00;1;Ja\n' >"$tmp/de.csv"
"$bin" init "$tmp/de.csv" >"$tmp/de.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^delimiter = ";"' "$tmp/de.conf" && grep -q '^header = true' "$tmp/de.conf" &&
  grep -q '^encoding = UTF8' "$tmp/de.conf" && grep -q '^decimal = ","' "$tmp/de.conf" &&
  grep -q "^format = 'DD.MM.YYYY HH24:MI'$" "$tmp/de.conf" &&
  grep -q '^;   "Bestellt" *timestamp without time zone (its format DD.MM.YYYY HH24:MI)' "$tmp/de.conf" &&
  grep -q '^;   "Menge" *bigint (written 1.234,5)' "$tmp/de.conf" &&
  grep -q '^;   "Bezahlt" *boolean (words for true and false)' "$tmp/de.conf" &&
  grep -q '^true = ja ' "$tmp/de.conf" && grep -q '^false = nein ' "$tmp/de.conf" &&
  ok || bad "init, European file: exit $st: $(cat "$tmp/de.conf" "$err")"
sql 'CREATE TABLE sniff_t ("Nr" smallint, "Kunde" text, "Bestellt" timestamp, "Betrag" numeric, "Menge" bigint, "Bezahlt" boolean)'
sed 's/^table = ?.*/table = sniff_t/' "$tmp/de.conf" >"$tmp/de2.conf"
cs -d "$dsn" -c "$tmp/de2.conf" -r "$tmp/de.rej" "$tmp/de.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT string_agg(concat_ws($$ $$, "Nr", "Bestellt", "Betrag", "Menge", "Bezahlt"), $$; $$ ORDER BY 1) FROM sniff_t')" = \
  "1 2024-12-31 23:15:00 1234.50 1000 t; 2 2025-02-01 08:00:00 99.90 12 f; 3 2025-02-28 10:00:00 10.00 1 t" ] &&
  ok || bad "init's config, European file: exit $st: $(cat "$err")"
printf 'id,amount,at,paid\n11,"1,234.50",12/31/2024 11:15 PM,true\n12,99.90,01/02/2025 08:00 AM,false\n' >"$tmp/us.csv"
"$bin" init "$tmp/us.csv" >"$tmp/us.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^delimiter = ","' "$tmp/us.conf" && grep -q '^thousands = ","' "$tmp/us.conf" &&
  grep -q "^format = 'MM/DD/YYYY HH12:MI AM'$" "$tmp/us.conf" && grep -q '^;   "paid" *boolean' "$tmp/us.conf" &&
  ok || bad "init, US file: exit $st: $(cat "$tmp/us.conf" "$err")"
printf '1\tAnn\t2024-01-01\t3.5\n2\tBob\t2024-02-01\t4\n' >"$tmp/tab.csv"
"$bin" init "$tmp/tab.csv" >"$tmp/tab.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^delimiter = tab' "$tmp/tab.conf" && grep -q '^header = false' "$tmp/tab.conf" &&
  grep -q '^columns = column1, column2, column3, column4' "$tmp/tab.conf" &&
  grep -q '^;   column3 *date' "$tmp/tab.conf" && grep -q '^;   column4 *numeric' "$tmp/tab.conf" &&
  ok || bad "init, headerless tab file: exit $st: $(cat "$tmp/tab.conf" "$err")"
printf 'id|name\n1|caf\351\n2|\200 5\n' >"$tmp/w.csv"
"$bin" init "$tmp/w.csv" >"$tmp/w.conf" 2>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^delimiter = "|"' "$tmp/w.conf" && grep -q '^encoding = WIN1252 *; a guess' "$tmp/w.conf" &&
  ok || bad "init, WIN1252 file: exit $st: $(cat "$tmp/w.conf" "$err")"
# From the file alone to a loaded table: init --create-table prints the
# table (names quoted, the sniffed types, NOT NULL where no value is blank,
# the key asked for), init -t writes the config from the file's dialect and
# the table, and the load takes every record, for a European file, a US one,
# a headerless tab-separated one, a tab-separated one with NULL markers and
# day-first dates, and one in WIN1252.
printf 'id\tseen\tscore\tnote\n1\t05.01.2024\t3,5\tok\n2\tN/A\t4\t\n3\t1.2.2024\t-\tfine\n' >"$tmp/tabh.csv"
for f in de:Nr us:id tab:column1 tabh:id w:id; do
  n=${f%%:*} key=${f#*:}
  "$bin" init -d "$dsn" --create-table "public.\"Rt_$n\"" --key "$key" "$tmp/$n.csv" >"$tmp/rt_$n.sql" 2>"$err" &&
    sql "$(cat "$tmp/rt_$n.sql")" >/dev/null &&
    "$bin" init -d "$dsn" -t "public.\"Rt_$n\"" "$tmp/$n.csv" >"$tmp/rt_$n.conf" 2>>"$err" &&
    cs -d "$dsn" -c "$tmp/rt_$n.conf" -r "$tmp/rt_$n.rej" "$tmp/$n.csv" 2>>"$err"; st=$?
  records=$(grep -o '[0-9]* records \(read\|sampled\)' "$tmp/rt_$n.sql" | cut -d' ' -f1)
  [ $st -eq 0 ] && [ "$(sql "SELECT count(*) FROM public.\"Rt_$n\"")" = "$records" ] &&
    grep -q "^CREATE TABLE \"public\".\"Rt_$n\" ($" "$tmp/rt_$n.sql" &&
    grep -q "^  PRIMARY KEY (\"$key\")$" "$tmp/rt_$n.sql" &&
    ok || bad "init --create-table, then init -t, then the load ($n): exit $st: $(cat "$err" "$tmp/rt_$n.sql" "$tmp/rt_$n.conf")"
done
[ "$(sql 'SELECT string_agg(concat_ws($$ $$, id, seen, score, note), $$; $$ ORDER BY id) FROM "Rt_tabh"')" = \
  "1 2024-01-05 3.5 ok; 2 4; 3 2024-02-01 fine" ] &&
  grep -q '^  "seen" date,   -- its format FMDD.FMMM.YYYY$' "$tmp/rt_tabh.sql" &&
  grep -q '^  "id" bigint NOT NULL,$' "$tmp/rt_tabh.sql" &&
  [ "$(sql 'SELECT string_agg(name, $$ $$ ORDER BY id) FROM "Rt_w"')" = "café € 5" ] &&
  ok || bad "init's round trip, values: $(cat "$tmp/rt_tabh.sql" "$tmp/rt_tabh.conf")"
# Types no sample can mislead: leading zeros stay text, a UTC offset makes
# timestamptz (timestamp would drop it), 0/1 is a number, not a boolean, an
# id is bigint (its 1,400th value is 40000), and NOT NULL only when the
# whole file was read (a blank past the sample would be rejected). Every
# record loads, each value as written.
{ echo 'id,zip,at,flag,note'
  seq 1 1399 | awk '{ printf "%d,%05d,2013-11-23T02:30:31-08:00,%d,n%d\n", $1, $1 % 1000, $1 % 2, $1 }'
  echo '40000,00501,2013-11-23T02:30:31Z,1,'; } >"$tmp/safe.csv"
for sample in 1000 0; do
  "$bin" init -d "$dsn" --create-table "safe_$sample" $([ $sample = 0 ] || echo --sample $sample) "$tmp/safe.csv" >"$tmp/safe.sql" 2>"$err" &&
    sql "$(cat "$tmp/safe.sql")" >/dev/null &&
    "$bin" init -d "$dsn" -t "safe_$sample" "$tmp/safe.csv" >"$tmp/safe.conf" 2>>"$err" &&
    cs -d "$dsn" -c "$tmp/safe.conf" -r "$tmp/safe.rej" "$tmp/safe.csv" 2>>"$err"; st=$?
  nn=$([ $sample = 0 ] && echo ' NOT NULL')
  [ $st -eq 0 ] && grep -q "^  \"id\" bigint$nn,\$" "$tmp/safe.sql" &&
    grep -q "^  \"zip\" text$nn,   -- leading zeros: a code, kept as written\$" "$tmp/safe.sql" &&
    grep -q "^  \"at\" timestamp with time zone$nn,   -- with UTC offsets\$" "$tmp/safe.sql" &&
    grep -q "^  \"flag\" bigint$nn,\$" "$tmp/safe.sql" &&
    grep -q '^  "note" text$' "$tmp/safe.sql" &&
    [ "$(sql "SET TimeZone = UTC; SELECT string_agg(concat_ws(' ', id, zip, at, flag), ', ' ORDER BY id) FROM safe_$sample WHERE id IN (1, 501, 40000)")" = \
      "1 00001 2013-11-23 10:30:31+00 1, 501 00501 2013-11-23 10:30:31+00 1, 40000 00501 2013-11-23 02:30:31+00 1" ] &&
    [ "$(sql "SELECT count(*) FROM safe_$sample")" = 1400 ] &&
    ok || bad "init, safe types (sample $sample): exit $st: $(cat "$err" "$tmp/safe.sql")"
done
# Ragged records, as distro-info's debian.csv writes them (a release not
# yet out lacks its last dates) and as a writer that ends every line with
# the delimiter does: init proposes ragged = pad, and the newcomer's three
# steps load every record, the missing fields NULL. Without it they are
# rejected at their lines (22P04), and a field with a value past the last
# column stays a reject even with it.
printf 'version,codename,series,created,release,eol\n12,Bookworm,bookworm,2021-08-14,2023-06-10,2026-06-10\n13,Trixie,trixie,2023-06-10,2025-08-09\n14,Forky,forky,2025-08-09\n,Sid,sid,1993-08-16\n' >"$tmp/ragged.csv"
"$bin" init -d "$dsn" --create-table ragged_deb "$tmp/ragged.csv" >"$tmp/ragged.sql" 2>"$err" &&
  sql "$(cat "$tmp/ragged.sql")" >/dev/null &&
  "$bin" init -d "$dsn" -t ragged_deb "$tmp/ragged.csv" >"$tmp/ragged.conf" 2>>"$err" &&
  cs -d "$dsn" -c "$tmp/ragged.conf" -r "$tmp/ragged.rej" "$tmp/ragged.csv" 2>>"$err"; st=$?
[ $st -eq 0 ] && grep -q '^ragged = pad$' "$tmp/ragged.conf" &&
  [ "$(sql "SELECT string_agg(concat_ws(' ', codename, release, coalesce(eol::text, '-')), ', ' ORDER BY created) FROM ragged_deb")" = \
    "Sid -, Bookworm 2023-06-10 2026-06-10, Trixie 2025-08-09 -, Forky -" ] &&
  ok || bad "init, ragged records: exit $st: $(cat "$err" "$tmp/ragged.conf")"
sed '/^ragged/d' "$tmp/ragged.conf" >"$tmp/strict.conf"
sql "TRUNCATE ragged_deb"
cs -d "$dsn" -c "$tmp/strict.conf" -r "$tmp/ragged.rej" "$tmp/ragged.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT count(*) FROM ragged_deb')" = 1 ] &&
  [ "$(cut -d, -f1,2 "$tmp/ragged.rej" | tail -n +2 | tr '\n' ' ')" = "3,22P04 4,22P04 5,22P04 " ] &&
  ok || bad "ragged records without ragged = pad: exit $st: $(cat "$err" "$tmp/ragged.rej")"
printf 'a,b,c\n1,x,2\n2,y,3,\n3,z,4,5\n4\n' >"$tmp/trail.csv"
sql "CREATE TABLE ragged_t (a int, b text, c int)"
cs -d "$dsn" -t ragged_t --ragged pad -r "$tmp/trail.rej" "$tmp/trail.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql "SELECT string_agg(concat_ws(' ', a, coalesce(b, '-'), coalesce(c::text, '-')), ', ' ORDER BY a) FROM ragged_t")" = "1 x 2, 2 y 3, 4 - -" ] &&
  [ "$(cut -d, -f1,2 "$tmp/trail.rej" | tail -n +2)" = "4,22P04" ] &&
  ok || bad "--ragged pad: exit $st: $(cat "$err" "$tmp/trail.rej")"
cs -d "$dsn" -t ragged_t --ragged maybe "$tmp/trail.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'ragged must be pad .* or error .*, not .maybe.' "$err" &&
  ok || bad "--ragged maybe: exit $st: $(cat "$err")"
# Headers no value type gives away (each seen in a real file): years over
# numbers, names over integers where one name (Y) is a boolean word, R's
# unnamed row-name column, a repeated name. The three steps take row 1 as
# the header and load every record; a headerless file with years in its
# first record (and below) stays headerless.
printf 'country,1960,1961,1962\nAruba,4.82,4.65,\nChile,3.1,2.9,3.0\n' >"$tmp/h_wide.csv"
printf 'obsid,X,Y\n1,10,20\n2,11,21\n3,12,22\n' >"$tmp/h_obs.csv"
printf '"","cond","age"\n"1","a",30\n"2","b",41\n' >"$tmp/h_r.csv"
printf 'id,name,name\n1,Ann,Lee\n2,Bob,Ray\n' >"$tmp/h_dup.csv"
for h in 'h_wide:Aruba 4.82 4.65, Chile 3.1 2.9 3.0' 'h_obs:1 10 20, 2 11 21, 3 12 22' \
         'h_r:1 a 30, 2 b 41' 'h_dup:1 Ann Lee, 2 Bob Ray'; do
  n=${h%%:*} rows=${h#*:}   # (cs sets want)
  "$bin" init -d "$dsn" --create-table "$n" "$tmp/$n.csv" >"$tmp/$n.sql" 2>"$err" &&
    sql "$(cat "$tmp/$n.sql")" >/dev/null &&
    "$bin" init -d "$dsn" -t "$n" "$tmp/$n.csv" >"$tmp/$n.conf" 2>>"$err" &&
    cs -d "$dsn" -c "$tmp/$n.conf" -r "$tmp/$n.rej" "$tmp/$n.csv" 2>>"$err"; st=$?
  [ $st -eq 0 ] && grep -q '^header = true$' "$tmp/$n.conf" &&
    got=$(sql "SELECT string_agg(concat_ws(' ', VARIADIC array_remove(string_to_array(trim(both '()' from t::text), ','), '')), ', ' ORDER BY t::text) FROM $n t") &&
    [ "$got" = "$rows" ] &&
    ok || bad "init, header of $n: exit $st, rows $got: $(cat "$err" "$tmp/$n.sql" "$tmp/$n.conf")"
done
grep -q '^  "column1" bigint NOT NULL,$' "$tmp/h_r.sql" && grep -q '^  "name_1" text NOT NULL$' "$tmp/h_dup.sql" &&
  "$bin" init "$tmp/h_r.csv" 2>"$err" | grep -q '^; the header has 1 blank or repeated names' &&
  ok || bad "init, named header columns: $(cat "$tmp/h_r.sql" "$tmp/h_dup.sql")"
printf 'Ann,1901,1950\nBob,1920,1990\nCy,1930,2001\n' >"$tmp/h_years.csv"
"$bin" init "$tmp/h_years.csv" >"$tmp/h_years.conf" 2>"$err" &&
  grep -q '^header = false ' "$tmp/h_years.conf" && ok || bad "init, years as data: $(cat "$err" "$tmp/h_years.conf")"
# Names that round-trip through the three steps, with no server for the
# first: header names holding a comma, quotes, =, #, ;, a leading space,
# two of 200 bytes alike in their first 63 (PostgreSQL keeps 63: each is
# shortened to a name of its own, mapped with from =, in a [column]
# section with name = since a section line holds 49 bytes), and a LATIN1
# file's names (the SQL says its client_encoding).
long=$(printf 'x%.0s' $(seq 1 196))
printf 'id,"a,b","say ""hi""",x=1,#tag,semi;colon, lead,%sA,%sB\n1,2,3,4,5,6,7,8,9\n' "$long" "$long" >"$tmp/names.csv"
printf 'Ort;Stra\337e\nK\366ln;Hauptstra\337e 1\n' >"$tmp/latin1.csv"
for n in names latin1; do
  PGHOST=/nonexistent "$bin" init --create-table "rt_$n" "$tmp/$n.csv" >"$tmp/$n.sql" 2>"$err" &&
    psql -X -q -v ON_ERROR_STOP=1 "$dsn" -f "$tmp/$n.sql" 2>>"$err" &&
    "$bin" init -d "$dsn" -t "rt_$n" "$tmp/$n.csv" >"$tmp/$n.conf" 2>>"$err" &&
    cs -d "$dsn" -c "$tmp/$n.conf" -r "$tmp/$n.rej" "$tmp/$n.csv" 2>>"$err"; st=$?
  [ $st -eq 0 ] && ok || bad "names round trip, $n: exit $st: $(cat "$err" "$tmp/$n.sql" "$tmp/$n.conf")"
done
[ "$(sql "SELECT string_agg(attname || '=' || length(attname), ' ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'rt_names'::regclass AND attnum > 0 AND attname LIKE 'xxx%'")" = \
  "$(printf 'x%.0s' $(seq 1 63))=63 $(printf 'x%.0s' $(seq 1 57))_1=59" ] &&
  [ "$(sql "SELECT concat_ws(' ', id, \"a,b\", \"say \"\"hi\"\"\", \"x=1\", \"#tag\", \"semi;colon\", \" lead\") FROM rt_names")" = "1 2 3 4 5 6 7" ] &&
  [ "$(sql "SELECT \"Ort\" || '|' || \"Straße\" FROM rt_latin1")" = "Köln|Hauptstraße 1" ] &&
  grep -q "^SET client_encoding = 'LATIN1';$" "$tmp/latin1.sql" &&
  ok || bad "names round trip: $(sql "TABLE rt_names") $(cat "$tmp/names.sql")"
# The table name is split as the server's parse_ident() splits it.
for t in 'plain' 'Mixed.Case' '"Odd.Name"' ' public . "Q1 ""Report""" ' 'a."b"."c"' 'ÄÖ.x$1'; do
  ours=$("$bin" init --create-table "$t" "$tmp/latin1.csv" 2>"$err" | sed -n 's/^CREATE TABLE \(.*\) ($/\1/p')
  theirs=$(echo "SELECT string_agg(quote_ident(p), '.') FROM unnest(parse_ident(:'t')) p" | psql -X -q -t -A "$dsn" -v t="$t" 2>&1)
  # quote_ident leaves lower-case names bare; csvstage quotes every part.
  [ -n "$ours" ] && [ "$(printf '%s' "$ours" | tr -d '"')" = "$(printf '%s' "$theirs" | tr -d '"')" ] &&
    ok || bad "--create-table '$t': ours $ours, parse_ident's $theirs: $(cat "$err")"
done
for t in 'a.' '"unclosed' '""' 'a b' 'a.b.c.d'; do
  "$bin" init --create-table "$t" "$tmp/latin1.csv" >/dev/null 2>"$err"; st=$?
  echo "SELECT parse_ident(:'t')" | psql -X -q -t -A -v ON_ERROR_STOP=1 "$dsn" -v t="$t" >/dev/null 2>&1; pst=$?
  [ $st -eq 2 ] && grep -q "is not a table name" "$err" && { [ $pst -ne 0 ] || [ "$t" = 'a.b.c.d' ]; } &&
    ok || bad "--create-table '$t': exit $st (parse_ident: $pst): $(cat "$err")"
done
# Lines that are no records, each seen in a real file: comment lines
# (a data source's notes), a preamble (a title and a source line before
# the header), the ## lines of a VCF before its #CHROM header, and a TSV
# that never quotes but has quotes in its text (npm's and Debian's
# listings). The three steps find each, load every record as written and
# count the lines they skip.
printf '# Data source: x\n# fetched 2024\nDate,IBM\n1990-01-01,10.97\n# a note\n1990-01-02,11.5\n' >"$tmp/f_comment.csv"
printf 'Population by state and county, 2020\nSource: census\n\nname,pop,area,code\nA,10,1.5,x1\nB,20,2.5,y2\n' >"$tmp/f_pre.csv"
printf '##fileformat=VCFv4.2\n##source=x\n#CHROM\tPOS\tID\n1\t100\trs1\n2\t200\trs2\n' >"$tmp/f_vcf.csv"
printf 'name\tversion\tdesc\nmooi\t2.5.0\t"Mooi & Anders": a lib\nfoo\t1.0\tsays "hi\nbar\t2.0\tplain\n' >"$tmp/f_tsv.csv"
for n in f_comment f_pre f_vcf f_tsv; do
  "$bin" init -d "$dsn" --create-table "$n" "$tmp/$n.csv" >"$tmp/$n.sql" 2>"$err" &&
    sql "$(cat "$tmp/$n.sql")" >/dev/null &&
    "$bin" init -d "$dsn" -t "$n" "$tmp/$n.csv" >"$tmp/$n.conf" 2>>"$err" &&
    cs -d "$dsn" -c "$tmp/$n.conf" -r "$tmp/$n.rej" "$tmp/$n.csv" 2>"$tmp/$n.err"; st=$?
  [ $st -eq 0 ] && [ ! -e "$tmp/$n.rej" ] && ok || bad "init, $n: exit $st: $(cat "$err" "$tmp/$n.err" "$tmp/$n.conf")"
done
grep -q '^comment = "#"$' "$tmp/f_comment.conf" && grep -q ', 3 comment lines skipped,' "$tmp/f_comment.err" &&
  [ "$(sql 'SELECT string_agg(concat_ws(chr(32), "Date", "IBM"), chr(44) ORDER BY 1) FROM f_comment')" = "1990-01-01 10.97,1990-01-02 11.5" ] &&
  ok || bad "init, comment lines: $(cat "$tmp/f_comment.conf" "$tmp/f_comment.err")"
grep -q '^skip = 3$' "$tmp/f_pre.conf" && grep -q ', 3 preamble lines skipped,' "$tmp/f_pre.err" &&
  [ "$(sql 'SELECT string_agg(concat_ws(chr(32), name, pop, area, code), chr(44) ORDER BY 1) FROM f_pre')" = "A 10 1.5 x1,B 20 2.5 y2" ] &&
  ok || bad "init, preamble: $(cat "$tmp/f_pre.conf" "$tmp/f_pre.err")"
grep -q '^skip = 2$' "$tmp/f_vcf.conf" &&
  [ "$(sql 'SELECT string_agg(concat_ws(chr(32), "#CHROM", "POS", "ID"), chr(44) ORDER BY 1) FROM f_vcf')" = "1 100 rs1,2 200 rs2" ] &&
  ok || bad "init, VCF header: $(cat "$tmp/f_vcf.conf" "$tmp/f_vcf.err")"
grep -q '^quote = none$' "$tmp/f_tsv.conf" &&
  [ "$(sql 'SELECT string_agg("desc", chr(124) ORDER BY name) FROM f_tsv')" = 'plain|says "hi|"Mooi & Anders": a lib' ] &&
  ok || bad "init, TSV without quoting: $(cat "$tmp/f_tsv.conf" "$tmp/f_tsv.err")"
"$bin" init -d "$dsn" --create-table rt_x --key nope "$tmp/tabh.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'no column "nope"' "$err" && ok || bad "--create-table --key nope: exit $st: $(cat "$err")"
"$bin" init -d "$dsn" --create-table rt_x --key note "$tmp/tabh.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'column "note" has blank values' "$err" && ok || bad "--create-table --key note: exit $st: $(cat "$err")"
# A zip of several files: one must be named (listed at preflight for a
# file; after the first for a pipe, nothing committed), and is then read.
cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" "$tmp/two.zip" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "two.zip: the zip archive holds 2 files ('rand.csv', 'other.csv'): name the one to load with --member NAME" "$err" &&
  ok || bad "zip of two: exit $st: $(cat "$err")"
cat "$tmp/two.zip" | cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "stdin:200002: the zip archive holds more than one file ('rand.csv', then 'other.csv')" "$err" &&
  [ "$(sql 'SELECT count(*) FROM comp_t')" = 0 ] && ok || bad "zip of two from a pipe: exit $st: $(cat "$err")"
cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" --member other.csv "$tmp/two.zip" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT count(*) FROM comp_t')" = 200000 ] && ok || bad "zip --member: exit $st: $(cat "$err")"
sql "TRUNCATE comp_t"
cat "$tmp/two.zip" | cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" --member other.csv 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT count(*) FROM comp_t')" = 200000 ] && ok || bad "zip --member from a pipe: exit $st: $(cat "$err")"
cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" --member nope.csv "$tmp/two.zip" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "two.zip: the zip archive holds no file 'nope.csv' (it holds 'rand.csv', 'other.csv')" "$err" &&
  ok || bad "zip --member missing: exit $st: $(cat "$err")"
cs -d "$dsn" -t comp_t -r "$tmp/comp.rej" --member rand.csv "$tmp/rand.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "member 'rand.csv' named, but the file is not a zip archive (plain)" "$err" &&
  ok || bad "--member on a plain file: exit $st: $(cat "$err")"
# Peak RSS of the last run under /usr/bin/time below $1 KB; not measured in
# a sanitizer build (tests/sanitize), whose shadow memory and quarantine
# are most of it.
rss_below() {
  [ -n "${CSVSTAGE_SANITIZED:-}" ] || [ "$(tail -n 1 "$tmp/rss")" -lt "$1" ]
}
# A 2 GB field: that record rejected (54000) with the start of its text, the
# next one loaded, memory bounded by the field limit (64 MB), not the field.
{ printf 'id,name\n5,"'; head -c 2G /dev/zero | tr '\0' a; printf '"\n6,after\n'; } |
  /usr/bin/time -f %M -o "$tmp/rss" "$bin" -d "$dsn" -t bad_t -r "$tmp/bad.rej" 2>"$err"; st=$?
[ $st -eq 3 ] && grep -q 'stdin:2: field longer than the limit of 67108864 bytes' "$err" &&
  grep -q 'stdin -> public.bad_t: 2 records, 1 loaded, 1 rejected, [0-9.]* s ([0-9]*\.[0-9] records/s)' "$err" &&
  [ "$(sql 'SELECT string_agg(id || name, $$,$$) FROM bad_t WHERE id > 3')" = 6after ] &&
  grep -q '^2,54000,,,field longer than the limit of 67108864 bytes,,5,,"5,""aaaa' "$tmp/bad.rej" &&
  rss_below 262144 \
  && ok || bad "2 GB field: exit $st, RSS $(tail -n 1 "$tmp/rss") KB: $(cat "$err")"
# A million columns in the header: the preflight names the first ones and
# stops (2), in bounded memory.
awk 'BEGIN { for (i = 1; i <= 1000000; i++) printf "c%d%s", i, i < 1000000 ? "," : "\n"; print "1" }' >"$tmp/wide.csv"
/usr/bin/time -f %M -o "$tmp/rss" "$bin" -d "$dsn" -t bad_t "$tmp/wide.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q 'no column of table public.bad_t for CSV columns "c1", "c2", .*"c100", \.\.\.: map them' "$err" &&
  rss_below 524288 \
  && ok || bad "a million columns: exit $st, RSS $(tail -n 1 "$tmp/rss") KB: $(cut -c1-300 "$err")"

# A closed stdout is not a crash.
{ sleep 0.2; "$bin" rejects "$tmp/rev.csv" 2>"$err"; echo $? >"$tmp/pipe.st"; } | true
st=$(cat "$tmp/pipe.st")
[ "$st" = 1 ] && grep -q 'cannot write to standard output: Broken pipe' "$err" \
  && ok || bad "rejects into a closed pipe: exit $st: $(cat "$err")"

# [source] on the command line: a one-off load needs no config file, and the
# options override the config's; a header read as one column names the
# delimiter the file seems to use.
sql "CREATE TABLE src_t (id int, name text, note text)"
printf 'id;name;note\n1;a;b\n' >"$tmp/semi.csv"
cs -d "$dsn" -t src_t "$tmp/semi.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "semi.csv: the header reads as one column, \"id;name;note\": the file looks ';'-delimited: give --delimiter ';' (or \[source\] delimiter = \";\")" "$err" \
  && ok || bad "delimiter hint: exit $st: $(cat "$err")"
printf '[source]\ndelimiter = "|"\n' >"$tmp/pipe.conf"
cs -d "$dsn" -t src_t -c "$tmp/pipe.conf" --delimiter ';' "$tmp/semi.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql 'SELECT id, name, note FROM src_t')" = "1|a|b" ] \
  && ok || bad "--delimiter over the config: exit $st: $(cat "$err")"
printf '2\tx\tNA\n3\ty\t z \n' | cs -d "$dsn" -t src_t --delimiter tab --no-header \
  --columns id,name,note --null NA --trim 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql "SELECT string_agg(id || ':' || name || ':' || coalesce(note, 'NULL'), ' ' ORDER BY id) FROM src_t WHERE id > 1")" = "2:x:NULL 3:y:z" ] \
  && ok || bad "--no-header --columns --null --trim: exit $st: $(cat "$err")"
# --datestyle: the order of ambiguous dates, for the whole load (a day-first
# date refused under the server's MDY goes in under DMY).
sql "CREATE TABLE ds_t (id int, d date)"
printf 'id,d\n1,09/12/2026\n2,31/12/2024\n3,2024-01-02\n' >"$tmp/ds.csv"
cs -d "$dsn" -t ds_t -r "$tmp/ds.rej" "$tmp/ds.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql "SELECT string_agg(id || '=' || d, ' ' ORDER BY id) FROM ds_t")" = "1=2026-09-12 3=2024-01-02" ] &&
  grep -q 'ds.csv:3: date/time field value out of range: "31/12/2024"' "$err" \
  && ok || bad "dates month-first by default: exit $st: $(cat "$err")"
sql "TRUNCATE ds_t"
cs -d "$dsn" -t ds_t -r "$tmp/ds.rej" --datestyle dmy "$tmp/ds.csv" 2>"$err"; st=$?
[ $st -eq 0 ] && [ "$(sql "SELECT string_agg(id || '=' || d, ' ' ORDER BY id) FROM ds_t")" = "1=2026-12-09 2=2024-12-31 3=2024-01-02" ] \
  && ok || bad "--datestyle dmy: exit $st: $(cat "$err")"
cs -d "$dsn" -t ds_t --datestyle DDMMYY "$tmp/ds.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "datestyle must be DMY (31/12/2024), MDY (12/31/2024) or YMD, not 'DDMMYY'" "$err" \
  && ok || bad "bad --datestyle: exit $st: $(cat "$err")"
cs -d "$dsn" -t src_t --delimiter ';;' "$tmp/semi.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q -- "--delimiter: delimiter must be one character" "$err" \
  && ok || bad "bad --delimiter: exit $st: $(cat "$err")"

# --max-rejects: reading stops once the rejects found prove the file over
# it; the message and the JSON name the line.
{ echo id; for i in $(seq 1 3000); do if [ $((i % 2)) = 0 ]; then echo "${i}x"; else echo "$i"; fi; done; } >"$tmp/half.csv"
sql "CREATE TABLE half_t (id int)"
cs -d "$dsn" -t half_t -r "$tmp/half.rej" --max-rejects 100 --summary-json "$tmp/half.json" "$tmp/half.csv" 2>"$err"; st=$?
[ $st -eq 1 ] && [ "$(sql 'SELECT count(*) FROM half_t')" = 0 ] &&
  grep -q "half.csv: stopped reading at line [0-9]*: [0-9]* of the first [0-9]* records rejected, more than max_rejects 100 allows whatever the rest holds: nothing committed" "$err" &&
  [ "$(jq '.files[0].stopped_at_line > 100 and .files[0].records < 3000' "$tmp/half.json")" = true ] \
  && ok || bad "--max-rejects stops early: exit $st: $(cat "$err")"

# --single-transaction: all the files or none.
sql "CREATE TABLE st_t (id int PRIMARY KEY)"
printf 'id\n1\n2\n' >"$tmp/st1.csv"
printf 'id\n3\nx\n' >"$tmp/st2.csv"
cs -d "$dsn" -t st_t -r "$tmp/st.csv" --single-transaction --summary-json "$tmp/st.json" \
  "$tmp/st1.csv" "$tmp/none.csv" 2>"$err"; st=$?
[ $st -eq 1 ] && [ "$(sql 'SELECT count(*) FROM st_t')" = 0 ] &&
  grep -q "rolled back, nothing of the run's 2 files committed" "$err" &&
  tr -d ' \n' <"$tmp/st.json" | grep -q '"file":"[^"]*st1.csv","table":"public.st_t","records":2,"loaded":2,"rejected":0,"dropped":0,"inserted":2,"updated":0,"ignored":0,"comment_lines":0,"skipped_lines":0,"mode":"append","stopped_at_line":null,"rejects_by_sqlstate":{},"reject_file":null,"committed":false' \
  && ok || bad "single transaction, one failing: exit $st: $(cat "$err" "$tmp/st.json")"
cs -d "$dsn" -t st_t -r "$tmp/st.csv" --single-transaction "$tmp/st1.csv" "$tmp/st2.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM st_t')" = "1,2,3" ] &&
  grep -q "committed the run's 2 files" "$err" && grep -q "loaded (in at the run's COMMIT)" "$err" \
  && ok || bad "single transaction: exit $st: $(cat "$err")"

# --mode: the table emptied in the load's transaction (truncate, replace);
# each file would replace the one before, so several need one transaction.
cs -d "$dsn" -t st_t -r "$tmp/st.csv" --mode truncate --summary-json "$tmp/mode.json" "$tmp/st2.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM st_t')" = "3" ] &&
  grep -q "/st2.csv -> public.st_t (truncate): 2 records, 1 loaded, 1 rejected" "$err" &&
  [ "$(jq -c '.files[0] | [.mode, .inserted, .updated, .ignored]' "$tmp/mode.json")" = '["truncate",1,0,0]' ] \
  && ok || bad "--mode truncate: exit $st: $(cat "$err")"
cs -d "$dsn" -t st_t -r "$tmp/st.csv" --mode replace "$tmp/st1.csv" "$tmp/st2.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "mode = replace with several files: .* give --single-transaction" "$err" &&
  [ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM st_t')" = "3" ] \
  && ok || bad "--mode replace, two files: exit $st: $(cat "$err")"
cs -d "$dsn" -t st_t -r "$tmp/st.csv" --mode replace --single-transaction "$tmp/st1.csv" "$tmp/st2.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM st_t')" = "1,2,3" ] \
  && ok || bad "--mode replace --single-transaction: exit $st: $(cat "$err")"
# --mode upsert with --key: a key the file gives, a row updated, one added.
sql "CREATE TABLE up_t (code text NOT NULL, region text NOT NULL, qty int, UNIQUE (code, region))"
sql "INSERT INTO up_t VALUES ('a', 'eu', 1)"
printf 'code,region,qty\na,eu,5\na,us,6\nb,eu,x\n' >"$tmp/up.csv"
cs -d "$dsn" -t up_t -r "$tmp/up.rej" --mode upsert --key code,region --summary-json "$tmp/up.json" "$tmp/up.csv" 2>"$err"; st=$?
[ $st -eq 3 ] && [ "$(sql 'SELECT string_agg(code || region || qty, $$,$$ ORDER BY region) FROM up_t')" = "aeu5,aus6" ] &&
  [ "$(jq -c '.files[0] | [.mode, .loaded, .inserted, .updated, .ignored, .rejected]' "$tmp/up.json")" = '["upsert",2,1,1,0,1]' ] \
  && ok || bad "--mode upsert --key: exit $st: $(cat "$err" "$tmp/up.json")"
cs -d "$dsn" -t up_t -r "$tmp/up.rej" --mode upsert "$tmp/up.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "has no primary key: give the key's columns with \[target\] key = (or --key)" "$err" \
  && ok || bad "--mode upsert without a key: exit $st: $(cat "$err")"
cs -d "$dsn" -t st_t --mode merge "$tmp/st1.csv" 2>"$err"; st=$?
[ $st -eq 2 ] && grep -q "mode must be append, truncate, replace, upsert or insert-new, not 'merge'" "$err" \
  && ok || bad "--mode merge: exit $st: $(cat "$err")"

# On a terminal (script(1) gives it one): the summary for people, details
# indented below it, no times.
script -qec "$bin -d '$dsn' -t users -r '$tmp/tty.csv' '$tmp/a.csv'" /dev/null >"$tmp/tty.out" 2>&1
tr -d '\r' <"$tmp/tty.out" | sed "s/$(printf '\033')\\[K//g" >"$tmp/tty.txt"
grep -q '^csvstage: .*/a.csv -> public.users: 2 records, 0 loaded, 2 rejected' "$tmp/tty.txt" &&
  grep -q '^         2  23505 unique_violation  constraint users_pkey$' "$tmp/tty.txt" &&
  ! grep -q "$ts" "$tmp/tty.txt" && ok || bad "terminal output: $(cat "$tmp/tty.txt")"
# ... with a progress line, cleared before the summary.
grep -q "$(printf '\r\033\\[K')csvstage: " "$tmp/tty.out" && ok || bad "no cleared progress line: $(cat -v "$tmp/tty.out")"

echo "load-cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
