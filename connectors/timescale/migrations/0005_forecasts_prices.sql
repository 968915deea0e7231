-- forecasts.prices: one row per market, area, product, delivery interval, model and issue time.
-- record_time is the event time of the record that wrote the row: older replays never overwrite it.
CREATE TABLE IF NOT EXISTS forecasts_prices (
  market           text             NOT NULL,
  area             text             NOT NULL,
  product          text             NOT NULL,
  delivery_start   timestamptz      NOT NULL,
  interval_minutes integer          NOT NULL CHECK (interval_minutes > 0),
  model            text             NOT NULL,
  issued_at        timestamptz      NOT NULL,
  model_version    text,
  price            double precision NOT NULL,
  currency         text,
  energy_unit      text,
  quantiles        jsonb,
  record_time      timestamptz      NOT NULL,
  PRIMARY KEY (market, area, product, delivery_start, interval_minutes, model, issued_at)
);
SELECT optibid_partition_by_time('forecasts_prices', 'delivery_start', interval '30 days');
