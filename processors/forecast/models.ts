import { OptiBidError } from '@optibid/runtime';
import type { DayAheadModel } from './model.js';
import { dnnModel } from './dnn.js';
import { ensembleModel } from './ensemble.js';
import { learModel, type LearOptions } from './lear.js';
import { naiveModel } from './naive.js';

/** The model `default` stands for (the best measured on the benchmark, see README). */
export const defaultModel = 'ensemble';

/**
 * `lear-ensemble`: 24 LEAR members averaged in price space: transforms asinh, N-PIT and linear x
 * calibration windows 56, 84, 364 days and all history x penalty by BIC and by the LassoLarsIC-style AIC.
 */
export const learEnsembleOptions: LearOptions = {
  transforms: ['asinh', 'npit', 'linear'],
  windows: [56, 84, 364, 0],
  criteria: ['bic', 'aicv'],
  lasso: { patience: 3 },
};

/** Weight of `lear-ensemble` in `ensemble` (the DNN gets the rest). */
export const ensembleLearWeight = 0.75;

const factories: Record<string, () => DayAheadModel> = {
  'naive-daily': () => naiveModel(1),
  'naive-weekly': () => naiveModel(7),
  lear: () => learModel(),
  'lear-ensemble': () => learModel(learEnsembleOptions, 'lear-ensemble'),
  dnn: () => dnnModel(),
  ensemble: () =>
    ensembleModel([learModel(learEnsembleOptions, 'lear-ensemble'), dnnModel()], 'ensemble', [
      ensembleLearWeight,
      1 - ensembleLearWeight,
    ]),
};

/** Model names accepted by `createModel` and `rollingForecast` (plus `column:NAME`, a column of the CSV). */
export const forecastModels: string[] = [...Object.keys(factories), 'default'];

/** Creates a fresh model by name (`default` resolves to `defaultModel`). */
export function createModel(name: string): DayAheadModel {
  const factory = factories[name === 'default' ? defaultModel : name];
  if (!factory) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `unknown forecast model "${name}" (models: ${forecastModels.join(', ')}, column:NAME)`,
    );
  }
  return factory();
}
