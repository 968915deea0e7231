-- Model registry of the price forecasters: one row per model version (a recalibration), with its
-- training window, parameters and backtest metrics, for the API and Grafana.
CREATE TABLE IF NOT EXISTS forecast_model_versions (
  market        text        NOT NULL,
  area          text        NOT NULL,
  model         text        NOT NULL,
  model_version text        NOT NULL,
  trained_at    timestamptz NOT NULL,
  training_from date        NOT NULL,
  training_to   date        NOT NULL,
  params        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  metrics       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (market, area, model, model_version)
);
CREATE INDEX IF NOT EXISTS forecast_model_versions_latest ON forecast_model_versions (market, area, model, trained_at DESC);
