-- The load ledger: one row per committed load, written in the load's own
-- transaction, so that a row here means the load is in, and a file whose
-- content is already here for a table is not loaded into it twice.
-- csvstage creates it on first use (ledger = on); this file is that DDL.
CREATE SCHEMA IF NOT EXISTS csvstage;
CREATE TABLE IF NOT EXISTS csvstage.loads (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  file         text NOT NULL,           -- as given on the command line; stdin: "stdin"
  size         bigint NOT NULL,         -- bytes read (compressed, for gzip)
  sha256       text NOT NULL,           -- of those bytes, in hex
  target       text NOT NULL,           -- schema.table
  records      bigint NOT NULL,
  loaded       bigint NOT NULL,
  rejected     bigint NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  db_user      text NOT NULL DEFAULT current_user,
  client_host  text,
  version      text NOT NULL,           -- csvstage's
  mode         text NOT NULL DEFAULT 'append'   -- [target] mode: append, truncate, replace
);
-- A ledger made before the mode was recorded gets the column (its loads
-- were appends); checked first, so that a load does not lock the ledger.
DO $ledger$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'csvstage.loads'::regclass
                 AND attname = 'mode' AND NOT attisdropped) THEN
    ALTER TABLE csvstage.loads ADD COLUMN mode text NOT NULL DEFAULT 'append';
  END IF;
END
$ledger$;
CREATE INDEX IF NOT EXISTS loads_target_sha256 ON csvstage.loads (target, sha256);
