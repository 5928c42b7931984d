// package.json is the user-facing half of the settings and commands: it must agree with the code.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CLIENT_COMMANDS, SERVER_COMMANDS } from '../src/commandIds';
import { DEFAULT_SETTINGS, MAX_ATTEMPTS_RANGE, SETTINGS_SECTION } from '../src/settings';

interface Property {
    readonly type: string;
    readonly default: unknown;
    readonly minimum?: number;
    readonly maximum?: number;
    readonly enum?: readonly string[];
}

interface Manifest {
    readonly main: string;
    readonly engines: { readonly vscode: string };
    readonly capabilities: {
        readonly untrustedWorkspaces: {
            readonly supported: string;
            readonly restrictedConfigurations: readonly string[];
        };
    };
    readonly contributes: {
        readonly configuration: { readonly properties: Readonly<Record<string, Property>> };
        readonly commands: readonly { readonly command: string; readonly title: string; readonly category: string }[];
    };
}

// Compiled tests live in out/test/, the manifest two folders up.
const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as Manifest;
const properties = manifest.contributes.configuration.properties;

describe('package.json', () => {
    it('contributes every setting with the default the code assumes', () => {
        for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) {
            const property = properties[`${SETTINGS_SECTION}.${key}`];
            assert.ok(property, `missing setting ${key}`);
            assert.equal(property.default, value, key);
        }
        const attempts = properties['codeEvolver.maxAttempts'];
        assert.ok(attempts);
        assert.equal(attempts.minimum, MAX_ATTEMPTS_RANGE.min);
        assert.equal(attempts.maximum, MAX_ATTEMPTS_RANGE.max);
        assert.deepEqual(properties['codeEvolver.trace.server']?.enum, ['off', 'messages', 'verbose']);
    });

    it('contributes every command in the Code Evolver category', () => {
        const expected = [...Object.values(SERVER_COMMANDS), ...Object.values(CLIENT_COMMANDS)].sort();
        const contributed = manifest.contributes.commands.map((c) => c.command).sort();
        assert.deepEqual(contributed, expected);
        for (const command of manifest.contributes.commands) {
            assert.equal(command.category, 'Code Evolver');
        }
    });

    it('is limited in untrusted workspaces and restricts the path settings', () => {
        const trust = manifest.capabilities.untrustedWorkspaces;
        assert.equal(trust.supported, 'limited');
        assert.deepEqual([...trust.restrictedConfigurations].sort(), [
            'codeEvolver.configPath',
            'codeEvolver.interpreter',
        ]);
    });

    it('loads the bundle and targets VS Code 1.82+', () => {
        assert.equal(manifest.main, './dist/extension.js');
        assert.equal(manifest.engines.vscode, '^1.82.0');
    });
});
