import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildServerLaunch, chooseServerSource, describeLaunch, type LaunchInput } from '../src/serverCommand';

const libs = '/ext/bundled/libs';

function launchWith(input: Partial<LaunchInput>) {
    return buildServerLaunch({
        python: 'p',
        source: 'bundled',
        bundledLibs: libs,
        configPath: null,
        baseEnv: {},
        ...input,
    });
}

describe('buildServerLaunch', () => {
    it('runs python -m code_evolver lsp with the bundled libs first on PYTHONPATH', () => {
        const launch = launchWith({
            python: '/usr/bin/python3',
            baseEnv: { PATH: '/usr/bin', PYTHONPATH: '/mine', UNSET: undefined },
            pathDelimiter: ':',
        });
        assert.equal(launch.command, '/usr/bin/python3');
        assert.deepEqual(launch.args, ['-m', 'code_evolver', 'lsp']);
        assert.equal(launch.env.PYTHONPATH, '/ext/bundled/libs:/mine');
        assert.equal(launch.env.CODE_EVOLVER_BUNDLED_PATH, '/ext/bundled/libs');
        assert.equal(launch.env.PATH, '/usr/bin');
        assert.equal(launch.env.PYTHONUNBUFFERED, '1');
        assert.equal('UNSET' in launch.env, false);
    });

    it('passes --config and uses the Windows delimiter there', () => {
        const launch = launchWith({
            python: 'python',
            bundledLibs: 'C:\\ext\\bundled\\libs',
            configPath: 'C:\\work\\config.yaml',
            baseEnv: { PYTHONPATH: 'C:\\mine' },
            pathDelimiter: ';',
        });
        assert.deepEqual(launch.args, ['-m', 'code_evolver', 'lsp', '--config', 'C:\\work\\config.yaml']);
        assert.equal(launch.env.PYTHONPATH, 'C:\\ext\\bundled\\libs;C:\\mine');
    });

    it('sets PYTHONPATH to the libs alone when it was empty', () => {
        assert.equal(launchWith({}).env.PYTHONPATH, libs);
    });

    it('leaves PYTHONPATH alone for an installed server', () => {
        const launch = launchWith({ source: 'installed', baseEnv: { PYTHONPATH: '/mine' } });
        assert.equal(launch.env.PYTHONPATH, '/mine');
        assert.equal('CODE_EVOLVER_BUNDLED_PATH' in launch.env, false);
        assert.match(describeLaunch(launch), /^p -m code_evolver lsp \(installed server\)$/);
    });

    it('quotes paths with spaces in the log line', () => {
        const launch = launchWith({ python: '/Program Files/py', configPath: '/a b/config.yaml' });
        assert.match(
            describeLaunch(launch),
            /^"\/Program Files\/py" -m code_evolver lsp --config "\/a b\/config.yaml" \(bundled server/,
        );
    });
});

describe('chooseServerSource', () => {
    const importable = (answer: boolean) => {
        const asked = { count: 0 };
        const check = (): Promise<boolean> => {
            asked.count += 1;
            return Promise.resolve(answer);
        };
        return { asked, check };
    };

    it('uses the bundled server by default without asking the interpreter', async () => {
        const { asked, check } = importable(true);
        assert.deepEqual(await chooseServerSource(true, true, check, libs), { source: 'bundled' });
        assert.equal(asked.count, 0);
    });

    it('uses the installed server when bundling is off and it imports', async () => {
        const { check } = importable(true);
        assert.deepEqual(await chooseServerSource(false, true, check, libs), { source: 'installed' });
    });

    it('falls back to the bundled server when bundling is off but nothing is installed', async () => {
        const { check } = importable(false);
        const choice = await chooseServerSource(false, true, check, libs);
        assert.ok('source' in choice && choice.source === 'bundled');
        assert.match(choice.note ?? '', /cannot import code_evolver/);
    });

    it('falls back to the installed server when the bundle is missing', async () => {
        const { check } = importable(true);
        const choice = await chooseServerSource(true, false, check, libs);
        assert.ok('source' in choice && choice.source === 'installed');
        assert.match(choice.note ?? '', /bundled server is missing/);
    });

    it('explains when there is no server at all', async () => {
        const { check } = importable(false);
        const choice = await chooseServerSource(true, false, check, libs);
        assert.ok('error' in choice);
        assert.match(choice.error, /bundled server is missing \(\/ext\/bundled\/libs\)/);
        assert.match(choice.error, /npm run package/);
    });
});
