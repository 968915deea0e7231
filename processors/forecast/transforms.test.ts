import { fitTransform, normalCdf, normalQuantile, transformNames } from './transforms.js';

describe('variance-stabilising transforms', () => {
  // A skewed, spiky price-like sample with ties and a negative price.
  const sample = [30, 31, 31, 32, 33, 35, 36, 40, 41, 45, 52, 60, 75, 120, 250, -5, 31, 33, 34, 38];

  it.each(transformNames)('%s: inverse(forward(x)) returns x on the sample', (name) => {
    const f = fitTransform(name, sample);
    for (const v of sample) expect(f.inverse(f.forward(v))).toBeCloseTo(v, 3);
  });

  it.each(transformNames)('%s: is increasing', (name) => {
    const f = fitTransform(name, sample);
    const xs = [-5, 0, 30, 31.5, 40, 100, 250];
    for (let i = 1; i < xs.length; i++) expect(f.forward(xs[i])).toBeGreaterThan(f.forward(xs[i - 1]));
  });

  it('asinh damps spikes: the 250 outlier lands within a few units of the median', () => {
    const f = fitTransform('asinh', sample);
    expect(Math.abs(f.forward(250))).toBeLessThan(5);
    expect(f.forward(35.5)).toBeCloseTo(0, 9); // the median maps to zero
  });

  it('npit maps the sample to roughly standard-normal scores and never forecasts outside the observed range', () => {
    const f = fitTransform('npit', sample);
    const z = sample.map((v) => f.forward(v));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(f.inverse(10)).toBe(250);
    expect(f.inverse(-10)).toBe(-5);
  });

  it('normal quantile and CDF are inverse to each other', () => {
    for (const z of [-3, -1.5, -0.2, 0, 0.7, 2.5]) expect(normalQuantile(normalCdf(z))).toBeCloseTo(z, 4);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
  });
});
