-- market.fundamentals: one row per area, kind, basis and delivery interval.
-- record_time is the event time of the record that wrote the row: older replays never overwrite it.
CREATE TABLE IF NOT EXISTS market_fundamentals (
  area             text             NOT NULL,
  kind             text             NOT NULL,
  basis            text             NOT NULL,
  delivery_start   timestamptz      NOT NULL,
  interval_minutes integer          NOT NULL CHECK (interval_minutes > 0),
  value_mw         double precision NOT NULL,
  published_at     timestamptz,
  ingested_at      timestamptz,
  source           text,
  record_time      timestamptz      NOT NULL,
  PRIMARY KEY (area, kind, basis, delivery_start, interval_minutes)
);
SELECT optibid_partition_by_time('market_fundamentals', 'delivery_start', interval '30 days');
