-- bids.signals gained the forecast's model version, the schedule revision, the day's expected value and
-- the interval's price–quantity curve (schema evolution with defaults, so older records leave them NULL).
ALTER TABLE bids_signals ADD COLUMN IF NOT EXISTS forecast_model_version text;
ALTER TABLE bids_signals ADD COLUMN IF NOT EXISTS revision integer;
ALTER TABLE bids_signals ADD COLUMN IF NOT EXISTS day_expected_value double precision;
ALTER TABLE bids_signals ADD COLUMN IF NOT EXISTS curve jsonb;
