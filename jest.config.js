// Three projects: unit tests need no services; integration tests run against the real local
// stack, which test/integration/global-setup.ts brings up when it is not running; fault tests
// (test/faults) break that stack on purpose through its TCP fault proxy. `npm test` runs all
// three, with the fast fault scenarios; `npm run test:faults` runs every fault scenario.
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
// The long fault scenarios (*.slow.test.ts, minutes each) run only under `npm run test:faults`.
// (Not a METERFLOW_ variable: those are configuration overrides, and an unknown one is refused.)
const slowFaults = process.env.FAULTS_SLOW === '1';
module.exports = {
  // The fault suite's results file (test/faults/RESULTS.md), rewritten by `npm run test:faults`.
  reporters: ['default', '<rootDir>/test/faults/results-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: [
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/{runtime,collectors,processors,sinks,deploy}/**/*.test.ts',
      ],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/integration/setup-timeout.ts'],
    },
    {
      displayName: 'faults',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
      testPathIgnorePatterns: slowFaults ? [] : ['\\.slow\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/integration/setup-timeout.ts'],
    },
  ],
};
