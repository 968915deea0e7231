import { OptiBidError } from '@optibid/runtime';
import type { DayAheadModel } from './model.js';
import { dnnModel, type DnnOptions } from './dnn.js';
import { ensembleModel, type AdaptiveWeights } from './ensemble.js';
import { gbdtModel, type GbdtOptions } from './gbdt.js';
import { learModel, type LearOptions } from './lear.js';
import { naiveModel } from './naive.js';

/**
 * The model `default` stands for (the best measured on the benchmark, see README): since session 8
 * `ensemble-lear-adaptive`, before that `ensemble`.
 */
export const defaultModel = 'ensemble-lear-adaptive';

/**
 * `lear-ensemble`: 24 LEAR members averaged in price space: transforms asinh, N-PIT and linear x
 * calibration windows 56, 84, 364 days and all history x penalty by BIC and by the LassoLarsIC-style AIC.
 * (All history alone was better on PJM and BE but clearly worse on NP: README.)
 */
export const learEnsembleOptions: LearOptions = {
  transforms: ['asinh', 'npit', 'linear'],
  windows: [56, 84, 364, 0],
  criteria: ['bic', 'aicv'],
  lasso: { patience: 3 },
};

/**
 * `lear-adaptive`: the members of `lear-ensemble` weighted by their own recent error instead of averaged: per
 * delivery hour, each member's MAE at hours h-1..h+1 over the last 14 scored days, to the power -8 (session 8,
 * candidate C; chosen on the first year). In `default` through `ensemble-lear-adaptive`: on the evaluation year it
 * met the forecast target on all three markets; NP's and BE's capture moved by -0.2% and -0.1%, well inside noise
 * (README).
 */
export const learAdaptiveOptions: LearOptions = {
  ...learEnsembleOptions,
  adaptive: { windowDays: 14, power: 8, minDays: 14, intervalPool: 1 },
};

/**
 * `gbdt`: least-absolute-deviation boosted trees on the rich feature set, a depth-6 and a depth-7 booster
 * averaged, retrained weekly.
 */
export const gbdtOptions: GbdtOptions = {
  depths: [6, 7],
  rounds: 300,
  minLeaf: 20,
  learningRate: 0.05,
  features: 'rich',
};

/**
 * `gbdt-scaled`: the same trees on price differences divided by the week's intraday spread (`target: 'scaled'`).
 * On the first year (days 120..364) it beat `gbdt` alone on every market (PJM -3.2%, NP -2.4%, BE -4.5%): README.
 */
export const gbdtScaledOptions: GbdtOptions = { ...gbdtOptions, target: 'scaled' };

/**
 * `dnn-scaled`: the DNN with `target: 'scaled'` (price inputs and target divided by the week's intraday spread) and
 * L1 1e-3 (session 6, round 2). Not in `ensemble`: on the first year it made PJM's ensemble worse (README).
 */
export const dnnScaledOptions: DnnOptions = { target: 'scaled', l1: 1e-3 };

/**
 * Members of `ensemble`, in order. Session 6: `lear-ensemble` and `gbdt-scaled` (before: `lear-ensemble`, `dnn`,
 * `gbdt`); chosen on the first year, see README.
 */
export const ensembleMembers = ['lear-ensemble', 'gbdt-scaled'] as const;
export type EnsembleMember = (typeof ensembleMembers)[number];

/** Starting weights of the members of `ensemble`, used until `ensembleAdaptive.minDays` days are scored. */
export const ensembleWeights: Record<EnsembleMember, number> = {
  'lear-ensemble': 0.45,
  'gbdt-scaled': 0.55,
};

/** `ensemble` then weights each member by its mean absolute error over the last 56 scored days, to the power -2. */
export const ensembleAdaptive: AdaptiveWeights = { windowDays: 56, power: 2, minDays: 14 };

const factories: Record<string, () => DayAheadModel> = {
  'naive-daily': () => naiveModel(1),
  'naive-weekly': () => naiveModel(7),
  lear: () => learModel(),
  'lear-ensemble': () => learModel(learEnsembleOptions, 'lear-ensemble'),
  dnn: () => dnnModel(),
  'dnn-scaled': () => dnnModel(dnnScaledOptions, 'dnn-scaled'),
  gbdt: () => gbdtModel(gbdtOptions),
  'gbdt-scaled': () => gbdtModel(gbdtScaledOptions, 'gbdt-scaled'),
  'lear-adaptive': () => learModel(learAdaptiveOptions, 'lear-adaptive'),
  ensemble: () => defaultEnsemble(),
  // `default`'s combination with `lear-adaptive` in place of `lear-ensemble`, same starting weights.
  'ensemble-lear-adaptive': () =>
    ensembleModel(
      [factories['lear-adaptive'](), factories['gbdt-scaled']()],
      'ensemble-lear-adaptive',
      [ensembleWeights['lear-ensemble'], ensembleWeights['gbdt-scaled']],
      ensembleAdaptive,
    ),
};

/**
 * `ensemble` over the given members (by default the models named in `ensembleMembers`): the starting weights
 * `ensembleWeights` (by member name), then the recent-error weighting `ensembleAdaptive`.
 */
export function defaultEnsemble(
  members: DayAheadModel[] = ensembleMembers.map((name) => factories[name]()),
): DayAheadModel {
  const weights = members.map((m) => {
    const w = (ensembleWeights as Record<string, number>)[m.name];
    if (w === undefined) {
      throw new OptiBidError(
        'OPTIBID_ERR_USAGE',
        `ensemble member "${m.name}" has no starting weight (members: ${ensembleMembers.join(', ')})`,
      );
    }
    return w;
  });
  return ensembleModel(members, 'ensemble', weights, ensembleAdaptive);
}

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
