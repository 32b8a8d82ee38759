import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', '.meterflow/**', 'coverage/**', 'jest.config.js', 'bench/out/**'],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Money must never pass through parseFloat/Number on the money path; see schemas/decimal.ts.
      'no-restricted-globals': [
        'error',
        { name: 'parseFloat', message: 'Use Decimal from schemas/decimal.ts' },
      ],
    },
  },
);
