-- market.prices: one row per market, area, product and delivery interval.
-- record_time is the event time of the record that wrote the row: older replays never overwrite it.
CREATE TABLE IF NOT EXISTS market_prices (
  market           text             NOT NULL,
  area             text             NOT NULL,
  product          text             NOT NULL,
  delivery_start   timestamptz      NOT NULL,
  interval_minutes integer          NOT NULL CHECK (interval_minutes > 0),
  price            double precision NOT NULL,
  currency         text             NOT NULL,
  energy_unit      text,
  volume_mwh       double precision,
  published_at     timestamptz,
  ingested_at      timestamptz,
  source           text,
  record_time      timestamptz      NOT NULL,
  PRIMARY KEY (market, area, product, delivery_start, interval_minutes)
);
SELECT optibid_partition_by_time('market_prices', 'delivery_start', interval '30 days');
