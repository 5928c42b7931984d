// Lints the extension's TypeScript with type information and the build scripts as plain Node ESM.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
    { ignores: ['dist/', 'out/', 'bundled/', 'node_modules/', '*.vsix'] },
    eslint.configs.recommended,
    {
        files: ['**/*.ts'],
        extends: [tseslint.configs.strictTypeChecked],
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
            eqeqeq: 'error',
            curly: 'error',
        },
    },
    {
        files: ['test/**/*.ts'],
        rules: {
            // node:test's describe and it return promises that the runner itself waits for.
            '@typescript-eslint/no-floating-promises': [
                'error',
                { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it'] }] },
            ],
        },
    },
    {
        files: ['**/*.mjs'],
        languageOptions: { globals: globals.node },
    },
);
