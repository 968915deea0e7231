import { readFileSync } from 'node:fs';
import pg from 'pg';
import { OptiBidError } from '@optibid/runtime';

/** One recalibrated model version as the registry stores it. */
export interface ModelVersion {
  market: string;
  area: string;
  model: string;
  modelVersion: string;
  /** ms since the epoch. */
  trainedAt: number;
  trainingFrom: string;
  trainingTo: string;
  params?: Record<string, unknown>;
  /** Backtest metrics, e.g. { mae, rmae, smape, evalFrom, evalTo }. */
  metrics?: Record<string, unknown>;
}

const migration = new URL('./migrations/001_forecast_model_registry.sql', import.meta.url);

/**
 * The forecast model registry in PostgreSQL (what MLflow's registry does elsewhere): every version's
 * training window, parameters and backtest metrics. Writes are idempotent on (market, area, model, version).
 */
export class ModelRegistry {
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects (`schema` sets the search path, e.g. a per-test schema) and applies the migration. */
  static async open(url: string, opts: { schema?: string } = {}): Promise<ModelRegistry> {
    if (opts.schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(opts.schema)) {
      throw new OptiBidError(
        'OPTIBID_ERR_CONFIG',
        `registry schema "${opts.schema}" must be a lower-case SQL identifier`,
      );
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: 2,
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    try {
      if (opts.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
      await pool.query(readFileSync(migration, 'utf8'));
    } catch (cause) {
      await pool.end();
      throw new OptiBidError(
        'OPTIBID_ERR_NETWORK',
        `model registry: cannot prepare PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//***@')}: ${(cause as Error).message}`,
        { cause, retriable: true },
      );
    }
    return new ModelRegistry(pool);
  }

  /** Records (or updates the metrics and parameters of) a model version. */
  async record(v: ModelVersion): Promise<void> {
    await this.pool.query(
      `INSERT INTO forecast_model_versions (market, area, model, model_version, trained_at, training_from, training_to, params, metrics)
       VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), $6, $7, $8, $9)
       ON CONFLICT (market, area, model, model_version)
       DO UPDATE SET trained_at = EXCLUDED.trained_at, training_from = EXCLUDED.training_from, training_to = EXCLUDED.training_to,
                     params = EXCLUDED.params, metrics = forecast_model_versions.metrics || EXCLUDED.metrics`,
      [
        v.market,
        v.area,
        v.model,
        v.modelVersion,
        v.trainedAt,
        v.trainingFrom,
        v.trainingTo,
        JSON.stringify(v.params ?? {}),
        JSON.stringify(v.metrics ?? {}),
      ],
    );
  }

  /** Versions of one model, newest first. */
  async versions(market: string, area: string, model: string, limit = 50): Promise<ModelVersion[]> {
    const res = await this.pool.query(
      `SELECT market, area, model, model_version, extract(epoch from trained_at) * 1000 AS trained_at,
              to_char(training_from, 'YYYY-MM-DD') AS training_from, to_char(training_to, 'YYYY-MM-DD') AS training_to, params, metrics
         FROM forecast_model_versions WHERE market = $1 AND area = $2 AND model = $3
        ORDER BY trained_at DESC, model_version DESC LIMIT $4`,
      [market, area, model, limit],
    );
    return res.rows.map((r) => ({
      market: r.market,
      area: r.area,
      model: r.model,
      modelVersion: r.model_version,
      trainedAt: Number(r.trained_at),
      trainingFrom: r.training_from,
      trainingTo: r.training_to,
      params: r.params,
      metrics: r.metrics,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
