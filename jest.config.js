// Jest runs TypeScript sources directly through SWC as native ES modules; no build needed.
const packages = [
  'runtime',
  'schemas',
  'services',
  'connectors',
  'processors',
  'pipelines',
  'api',
  'cli',
  'dashboards',
  'bench',
];

const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' }, sourceMaps: 'inline' },
    ],
  },
  moduleNameMapper: {
    [`^@optibid/(${packages.join('|')})$`]: '<rootDir>/$1/index.ts',
    [`^@optibid/(${packages.join('|')})/(.*)\\.js$`]: '<rootDir>/$1/$2.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/.optibid/', '<rootDir>/grafana-plugins/'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/\\.optibid/', '/grafana-plugins/'],
};

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.integration\\.test\\.ts$'],
    },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/**/*.integration.test.ts'] },
  ],
};
