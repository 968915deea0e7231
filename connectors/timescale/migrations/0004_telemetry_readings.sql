-- telemetry.readings: one row per asset, metric and observation time.
-- record_time is the event time of the record that wrote the row: older replays never overwrite it.
CREATE TABLE IF NOT EXISTS telemetry_readings (
  asset_id    text             NOT NULL,
  metric      text             NOT NULL,
  observed_at timestamptz      NOT NULL,
  site_id     text,
  value       double precision NOT NULL,
  unit        text,
  quality     text,
  received_at timestamptz,
  origin      text,
  record_time timestamptz      NOT NULL,
  PRIMARY KEY (asset_id, metric, observed_at)
);
SELECT optibid_partition_by_time('telemetry_readings', 'observed_at', interval '1 day');
