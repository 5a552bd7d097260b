// ESLint (flat config): the JavaScript and typescript-eslint recommended rules, and React's hook
// rules for the components. `npm run lint`; make web-test runs it with the type check and tests.
import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { defineConfig } from 'eslint/config';

export default defineConfig(
  { ignores: ['dist/', 'e2e-output/', 'test-results/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    // `const { link: _, ...rest } = x` is how a test drops a field.
    rules: { '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }] },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
    plugins: { 'react-hooks': reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  {
    // The e2e drives chromium from node; the functions it hands to page.evaluate run in the page.
    files: ['e2e/**/*.mjs', '*.config.{js,ts}'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
