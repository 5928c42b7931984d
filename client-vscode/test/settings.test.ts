import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
    buildServerOptions,
    changedSettings,
    DEFAULT_SETTINGS,
    type ExtensionSettings,
    expandPathVariables,
    LIVE_SETTINGS,
    readSettings,
    resolveConfigPath,
    resolveInterpreterPath,
    RESTART_SETTINGS,
} from '../src/settings';

const workspace = path.resolve('/work/project');
const home = path.resolve('/home/ada');

function settingsFrom(values: Partial<Record<keyof ExtensionSettings, unknown>>): ExtensionSettings {
    return readSettings((key) => values[key]);
}

describe('readSettings', () => {
    it('gives the defaults when nothing is set', () => {
        assert.deepEqual(settingsFrom({}), DEFAULT_SETTINGS);
    });

    it('keeps well-typed values and trims paths', () => {
        const settings = settingsFrom({
            configPath: '  ~/cfg.yaml ',
            interpreter: '/usr/bin/python3.12',
            useBundledServer: false,
            maxAttempts: 5,
            runOnSave: true,
        });
        assert.deepEqual(settings, {
            configPath: '~/cfg.yaml',
            interpreter: '/usr/bin/python3.12',
            useBundledServer: false,
            maxAttempts: 5,
            runOnSave: true,
        });
    });

    it('falls back to the defaults for values of the wrong type', () => {
        const settings = settingsFrom({ configPath: 3, useBundledServer: 'no', maxAttempts: 'many', runOnSave: null });
        assert.deepEqual(settings, DEFAULT_SETTINGS);
    });

    it('clamps maxAttempts to 1..10 and rounds it', () => {
        assert.equal(settingsFrom({ maxAttempts: 0 }).maxAttempts, 1);
        assert.equal(settingsFrom({ maxAttempts: 99 }).maxAttempts, 10);
        assert.equal(settingsFrom({ maxAttempts: 2.6 }).maxAttempts, 3);
        assert.equal(settingsFrom({ maxAttempts: Number.NaN }).maxAttempts, 3);
    });
});

describe('paths', () => {
    const context = { workspaceFolder: workspace, homeDir: home };

    it('expands ~, ${userHome} and ${workspaceFolder}', () => {
        assert.equal(expandPathVariables('~/a.yaml', context), `${home}/a.yaml`);
        assert.equal(expandPathVariables('${userHome}/a.yaml', context), `${home}/a.yaml`);
        assert.equal(
            expandPathVariables('${workspaceFolder}/.venv/bin/python', context),
            `${workspace}/.venv/bin/python`,
        );
        assert.equal(expandPathVariables('a~b', context), 'a~b');
    });

    it('leaves ${workspaceFolder} alone without a workspace', () => {
        assert.equal(expandPathVariables('${workspaceFolder}/x', { homeDir: home }), '${workspaceFolder}/x');
    });

    it('resolves a relative config path from the workspace and keeps empty as null', () => {
        assert.equal(resolveConfigPath('', context), null);
        assert.equal(resolveConfigPath('conf/config.yaml', context), path.join(workspace, 'conf', 'config.yaml'));
        assert.equal(resolveConfigPath(path.join(home, 'c.yaml'), context), path.join(home, 'c.yaml'));
        assert.equal(resolveConfigPath('c.yaml', { homeDir: home }), 'c.yaml');
    });

    it('keeps a bare interpreter name for PATH lookup but resolves a relative path', () => {
        assert.equal(resolveInterpreterPath('python3.12', context), 'python3.12');
        assert.equal(
            resolveInterpreterPath('.venv/bin/python', context),
            path.join(workspace, '.venv', 'bin', 'python'),
        );
        assert.equal(resolveInterpreterPath('', context), '');
    });
});

describe('buildServerOptions', () => {
    it('has the shape docs/CONTRACTS.md gives for initializationOptions', () => {
        const settings = settingsFrom({ configPath: 'config.yaml', maxAttempts: 4, runOnSave: true });
        const options = buildServerOptions(settings, false, { workspaceFolder: workspace, homeDir: home });
        assert.deepEqual(options, {
            configPath: path.join(workspace, 'config.yaml'),
            workspaceTrusted: false,
            overrides: { fix: { max_attempts: 4 }, run_on_save: true },
        });
    });

    it('sends null for an unset config path', () => {
        const options = buildServerOptions(DEFAULT_SETTINGS, true, { homeDir: home });
        assert.equal(options.configPath, null);
        assert.equal(options.workspaceTrusted, true);
        assert.deepEqual(options.overrides, { fix: { max_attempts: 3 }, run_on_save: false });
    });

    it("names the server's interpreter as the project's Python for the runs", () => {
        const options = buildServerOptions(DEFAULT_SETTINGS, true, { homeDir: home }, '/p/.venv/bin/python');
        assert.equal(options.overrides.python, '/p/.venv/bin/python');
    });
});

describe('changedSettings', () => {
    it('tells restart settings from live ones', () => {
        const touched = new Set(['codeEvolver.interpreter', 'codeEvolver.runOnSave']);
        const affects = (section: string): boolean => touched.has(section);
        assert.deepEqual(changedSettings(RESTART_SETTINGS, affects), ['interpreter']);
        assert.deepEqual(changedSettings(LIVE_SETTINGS, affects), ['runOnSave']);
    });

    it("reports nothing for other extensions' settings", () => {
        assert.deepEqual(
            changedSettings(RESTART_SETTINGS, (section) => section === 'python.defaultInterpreterPath'),
            [],
        );
    });
});
