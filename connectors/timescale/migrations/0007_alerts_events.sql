-- alerts.events: one row per alert id, state (FIRING/RESOLVED) and event time.
-- record_time is the event time of the record that wrote the row: older replays never overwrite it.
CREATE TABLE IF NOT EXISTS alerts_events (
  alert_id    text             NOT NULL,
  state       text             NOT NULL,
  occurred_at timestamptz      NOT NULL,
  rule        text             NOT NULL,
  severity    text,
  resource    text,
  message     text,
  value       double precision,
  threshold   double precision,
  unit        text,
  emitted_at  timestamptz,
  labels      jsonb,
  record_time timestamptz      NOT NULL,
  PRIMARY KEY (alert_id, state, occurred_at)
);
SELECT optibid_partition_by_time('alerts_events', 'occurred_at', interval '30 days');
