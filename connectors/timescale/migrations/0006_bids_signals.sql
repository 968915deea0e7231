-- bids.signals: one row per signal id (deterministic, so a recomputed signal replaces the old one).
-- record_time is the event time of the record that wrote the row: older replays never overwrite it.
CREATE TABLE IF NOT EXISTS bids_signals (
  signal_id          text             NOT NULL,
  delivery_start     timestamptz      NOT NULL,
  interval_minutes   integer          NOT NULL CHECK (interval_minutes > 0),
  market             text             NOT NULL,
  area               text             NOT NULL,
  product            text,
  asset_id           text,
  side               text             NOT NULL,
  quantity_mw        double precision NOT NULL,
  limit_price        double precision,
  currency           text,
  energy_unit        text,
  expected_value     double precision,
  strategy           text,
  forecast_model     text,
  forecast_issued_at timestamptz,
  gate_closure       timestamptz,
  created_at         timestamptz,
  reason             text,
  record_time        timestamptz      NOT NULL,
  PRIMARY KEY (signal_id, delivery_start)
);
SELECT optibid_partition_by_time('bids_signals', 'delivery_start', interval '30 days');
