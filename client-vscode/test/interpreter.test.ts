import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
    canImportServer,
    checkInterpreter,
    chooseInterpreter,
    describeProblem,
    IMPORT_CHECK_ARGS,
    isSupported,
    parseVersionOutput,
    VERSION_CHECK_ARGS,
} from '../src/interpreter';
import { type ProcessResult, type RunProcess, runProcess } from '../src/runProcess';

function runner(result: Partial<ProcessResult>, calls: (readonly string[])[] = []): RunProcess {
    return (command, args) => {
        calls.push([command, ...args]);
        return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', timedOut: false, ...result });
    };
}

describe('chooseInterpreter', () => {
    it('prefers the setting', () => {
        assert.deepEqual(chooseInterpreter('/opt/py/bin/python', '/venv/bin/python', 'linux'), {
            command: '/opt/py/bin/python',
            source: 'setting',
        });
    });

    it('then the Python extension', () => {
        assert.deepEqual(chooseInterpreter('', '/venv/bin/python', 'darwin'), {
            command: '/venv/bin/python',
            source: 'python-extension',
        });
    });

    it('then python3, or python on Windows', () => {
        assert.deepEqual(chooseInterpreter('', undefined, 'linux'), { command: 'python3', source: 'default' });
        assert.deepEqual(chooseInterpreter('', '', 'win32'), { command: 'python', source: 'default' });
    });
});

describe('parseVersionOutput', () => {
    it('reads a version_info tuple', () => {
        assert.deepEqual(parseVersionOutput('(3, 12)\n'), { major: 3, minor: 12 });
        assert.deepEqual(parseVersionOutput('(3,9)'), { major: 3, minor: 9 });
    });

    it('rejects anything else', () => {
        assert.equal(parseVersionOutput('Python 3.12.1'), undefined);
        assert.equal(parseVersionOutput(''), undefined);
    });

    it('accepts 3.10 and later only', () => {
        assert.equal(isSupported({ major: 3, minor: 10 }), true);
        assert.equal(isSupported({ major: 3, minor: 13 }), true);
        assert.equal(isSupported({ major: 4, minor: 0 }), true);
        assert.equal(isSupported({ major: 3, minor: 9 }), false);
        assert.equal(isSupported({ major: 2, minor: 7 }), false);
    });
});

describe('checkInterpreter', () => {
    it('runs the version check and accepts 3.11', async () => {
        const calls: (readonly string[])[] = [];
        const check = await checkInterpreter('python3', runner({ stdout: '(3, 11)\n' }, calls));
        assert.deepEqual(check, { kind: 'ok', version: { major: 3, minor: 11 } });
        assert.deepEqual(calls, [['python3', ...VERSION_CHECK_ARGS]]);
    });

    it('says too old for 3.8', async () => {
        const check = await checkInterpreter('python3', runner({ stdout: '(3, 8)\n' }));
        assert.deepEqual(check, { kind: 'too-old', version: { major: 3, minor: 8 } });
    });

    it('says missing when the file does not exist', async () => {
        const check = await checkInterpreter('nope', runner({ exitCode: null, spawnError: 'ENOENT' }));
        assert.deepEqual(check, { kind: 'missing' });
    });

    it('says unusable with the last line of the error', async () => {
        const check = await checkInterpreter(
            'python3',
            runner({ exitCode: 1, stderr: 'Traceback (most recent call last):\nSyntaxError: invalid syntax\n' }),
        );
        assert.deepEqual(check, { kind: 'unusable', detail: 'its version check failed: SyntaxError: invalid syntax' });
    });

    it('says unusable on a time-out', async () => {
        const check = await checkInterpreter('python3', runner({ exitCode: null, timedOut: true }));
        assert.equal(check.kind, 'unusable');
    });
});

describe('canImportServer', () => {
    it('is true only when the import exits 0', async () => {
        const calls: (readonly string[])[] = [];
        assert.equal(await canImportServer('py', runner({}, calls)), true);
        assert.deepEqual(calls, [['py', ...IMPORT_CHECK_ARGS]]);
        assert.equal(await canImportServer('py', runner({ exitCode: 1 })), false);
    });
});

describe('describeProblem', () => {
    it('names the interpreter, where it came from, and the fix', () => {
        const message = describeProblem(
            { command: '/usr/bin/python3', source: 'setting' },
            {
                kind: 'too-old',
                version: { major: 3, minor: 8 },
            },
        );
        assert.match(message, /"\/usr\/bin\/python3"/);
        assert.match(message, /codeEvolver\.interpreter setting/);
        assert.match(message, /is Python 3\.8/);
        assert.match(
            message,
            /Set codeEvolver\.interpreter to a Python 3\.10\+ interpreter or install Python 3\.10\+\./,
        );
    });

    it('says "not found" for a missing interpreter', () => {
        const message = describeProblem({ command: 'python3', source: 'default' }, { kind: 'missing' });
        assert.match(message, /"python3" \(the default, as codeEvolver\.interpreter is empty\) was not found/);
    });
});

describe('with real processes', () => {
    it('reports a missing interpreter as missing', async () => {
        assert.deepEqual(await checkInterpreter('/nonexistent/python3', runProcess), { kind: 'missing' });
    });

    it('captures output and exit codes', async () => {
        const node = process.execPath;
        const ok = await runProcess(node, ['-e', 'process.stdout.write("(3, 12)")']);
        assert.deepEqual(ok, { exitCode: 0, stdout: '(3, 12)', stderr: '', timedOut: false });
        const failed = await runProcess(node, ['-e', 'process.stderr.write("boom"); process.exit(4)']);
        assert.equal(failed.exitCode, 4);
        assert.equal(failed.stderr, 'boom');
        assert.equal(failed.spawnError, undefined);
    });

    it('stops a process that takes too long', async () => {
        const slow = await runProcess(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { timeoutMs: 200 });
        assert.equal(slow.timedOut, true);
        assert.equal(slow.exitCode, null);
    });
});
