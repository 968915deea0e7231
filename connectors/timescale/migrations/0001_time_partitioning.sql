-- Helpers that make a table time-partitioned either as a TimescaleDB hypertable or, when the
-- extension is absent (or disabled), as a plain PostgreSQL table partitioned by range on time.
-- The migration runner sets `optibid.partitioning` to 'timescaledb' or 'native' for each run.

CREATE TABLE IF NOT EXISTS optibid_time_partitioning (
  table_name  text PRIMARY KEY,
  time_column text NOT NULL,
  chunk       interval NOT NULL,
  mode        text NOT NULL CHECK (mode IN ('timescaledb', 'native'))
);

-- Makes an empty table time-partitioned; returns the mode used.
CREATE OR REPLACE FUNCTION optibid_partition_by_time(tbl text, time_column text, chunk interval)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  mode text := coalesce(nullif(current_setting('optibid.partitioning', true), ''), 'native');
  rel regclass := tbl::regclass;
  nsp text;
BEGIN
  SELECT n.nspname INTO nsp FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
  IF mode = 'timescaledb' THEN
    PERFORM create_hypertable(rel, time_column, chunk_time_interval => chunk, if_not_exists => true);
  ELSIF NOT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = rel) THEN
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL) PARTITION BY RANGE (%I)',
                   nsp, tbl || '__partitioned', nsp, tbl, time_column);
    EXECUTE format('DROP TABLE %I.%I', nsp, tbl);
    EXECUTE format('ALTER TABLE %I.%I RENAME TO %I', nsp, tbl || '__partitioned', tbl);
  END IF;
  INSERT INTO optibid_time_partitioning (table_name, time_column, chunk, mode)
  VALUES (tbl, time_column, chunk, mode)
  ON CONFLICT (table_name) DO UPDATE SET time_column = EXCLUDED.time_column, chunk = EXCLUDED.chunk, mode = EXCLUDED.mode;
  RETURN mode;
END
$fn$;

-- Native mode: creates the partition holding `ts` (epoch-aligned chunks), if it does not exist yet.
CREATE OR REPLACE FUNCTION optibid_ensure_partition(tbl text, ts timestamptz)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  p optibid_time_partitioning%ROWTYPE;
  nsp text;
  step double precision;
  lower_bound timestamptz;
BEGIN
  SELECT * INTO p FROM optibid_time_partitioning WHERE table_name = tbl;
  IF NOT FOUND OR p.mode <> 'native' THEN
    RETURN;
  END IF;
  SELECT n.nspname INTO nsp FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl::regclass;
  step := extract(epoch FROM p.chunk);
  lower_bound := to_timestamp(floor(extract(epoch FROM ts) / step) * step);
  BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                   nsp, tbl || '_p' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MI'), nsp, tbl,
                   lower_bound, lower_bound + p.chunk);
  EXCEPTION WHEN duplicate_table OR unique_violation OR invalid_object_definition THEN
    -- another session created it at the same moment
    NULL;
  END;
END
$fn$;

-- Retention: drops whole chunks (hypertable) or partitions (native) that end at or before `cutoff`.
CREATE OR REPLACE FUNCTION optibid_drop_before(tbl text, cutoff timestamptz)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  p optibid_time_partitioning%ROWTYPE;
  part record;
  upper_bound timestamptz;
  dropped integer := 0;
BEGIN
  SELECT * INTO p FROM optibid_time_partitioning WHERE table_name = tbl;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'table % is not time-partitioned by optibid migrations', tbl;
  END IF;
  IF p.mode = 'timescaledb' THEN
    EXECUTE 'SELECT count(*) FROM drop_chunks($1::regclass, older_than => $2)' INTO dropped USING tbl, cutoff;
    RETURN dropped;
  END IF;
  FOR part IN
    SELECT c.oid::regclass AS rel, pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = tbl::regclass
  LOOP
    upper_bound := (regexp_match(part.bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz;
    IF upper_bound IS NOT NULL AND upper_bound <= cutoff THEN
      EXECUTE format('DROP TABLE %s', part.rel);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  RETURN dropped;
END
$fn$;
