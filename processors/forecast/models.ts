import { OptiBidError } from '@optibid/runtime';
import type { DayAheadModel } from './model.js';
import { dnnModel } from './dnn.js';
import { ensembleModel } from './ensemble.js';
import { learModel } from './lear.js';
import { naiveModel } from './naive.js';

/** The model `default` stands for. */
export const defaultModel = 'lear';

const factories: Record<string, () => DayAheadModel> = {
  'naive-daily': () => naiveModel(1),
  'naive-weekly': () => naiveModel(7),
  lear: () => learModel(),
  dnn: () => dnnModel(),
  ensemble: () => ensembleModel([learModel(), dnnModel()]),
};

/** Model names accepted by `createModel` and `rollingForecast` (plus `column:NAME`, a column of the CSV). */
export const forecastModels: string[] = [...Object.keys(factories), 'default'];

/** Creates a fresh model by name (`default` resolves to `defaultModel`). */
export function createModel(name: string): DayAheadModel {
  const factory = factories[name === 'default' ? defaultModel : name];
  if (!factory) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', `unknown forecast model "${name}" (models: ${forecastModels.join(', ')}, column:NAME)`);
  }
  return factory();
}
