/** Chooses the Python interpreter for the server and checks that it is new enough. */
import type { RunProcess } from './runProcess';

export type InterpreterSource = 'setting' | 'python-extension' | 'default';

export interface InterpreterChoice {
    readonly command: string;
    readonly source: InterpreterSource;
}

export interface PythonVersion {
    readonly major: number;
    readonly minor: number;
}

export const MIN_PYTHON: PythonVersion = { major: 3, minor: 10 };

export const VERSION_CHECK_ARGS = ['-c', 'import sys; print(sys.version_info[:2])'] as const;
export const IMPORT_CHECK_ARGS = ['-c', 'import code_evolver'] as const;

export type InterpreterCheck =
    | { readonly kind: 'ok'; readonly version: PythonVersion }
    | { readonly kind: 'missing' }
    | { readonly kind: 'too-old'; readonly version: PythonVersion }
    | { readonly kind: 'unusable'; readonly detail: string };

/** The setting wins, then the Python extension's active interpreter, then the platform's default. */
export function chooseInterpreter(
    configured: string,
    fromPythonExtension: string | undefined,
    platform: NodeJS.Platform,
): InterpreterChoice {
    if (configured !== '') {
        return { command: configured, source: 'setting' };
    }
    if (fromPythonExtension !== undefined && fromPythonExtension !== '') {
        return { command: fromPythonExtension, source: 'python-extension' };
    }
    return { command: platform === 'win32' ? 'python' : 'python3', source: 'default' };
}

/** Reads what `print(sys.version_info[:2])` printed, e.g. `(3, 12)`. */
export function parseVersionOutput(stdout: string): PythonVersion | undefined {
    const match = /\(\s*(\d+)\s*,\s*(\d+)\s*\)/.exec(stdout);
    if (match === null) {
        return undefined;
    }
    return { major: Number(match[1]), minor: Number(match[2]) };
}

export function isSupported(version: PythonVersion): boolean {
    return (
        version.major > MIN_PYTHON.major || (version.major === MIN_PYTHON.major && version.minor >= MIN_PYTHON.minor)
    );
}

export async function checkInterpreter(command: string, run: RunProcess): Promise<InterpreterCheck> {
    const result = await run(command, VERSION_CHECK_ARGS);
    if (result.spawnError === 'ENOENT') {
        return { kind: 'missing' };
    }
    if (result.spawnError !== undefined) {
        return { kind: 'unusable', detail: `it could not be started (${result.spawnError})` };
    }
    if (result.timedOut) {
        return { kind: 'unusable', detail: 'it did not answer a version check in time' };
    }
    const version = result.exitCode === 0 ? parseVersionOutput(result.stdout) : undefined;
    if (version === undefined) {
        return { kind: 'unusable', detail: `its version check failed: ${lastLine(result.stderr || result.stdout)}` };
    }
    return isSupported(version) ? { kind: 'ok', version } : { kind: 'too-old', version };
}

/** Whether the interpreter has the server installed itself (outside the extension). */
export async function canImportServer(command: string, run: RunProcess): Promise<boolean> {
    const result = await run(command, IMPORT_CHECK_ARGS);
    return result.exitCode === 0;
}

export function formatVersion(version: PythonVersion): string {
    return `${version.major}.${version.minor}`;
}

const SOURCE_WORDS: Record<InterpreterSource, string> = {
    setting: 'from the codeEvolver.interpreter setting',
    'python-extension': "the Python extension's active interpreter",
    default: 'the default, as codeEvolver.interpreter is empty',
};

/** One sentence for the user that names the interpreter and the fix. */
export function describeProblem(choice: InterpreterChoice, check: Exclude<InterpreterCheck, { kind: 'ok' }>): string {
    const who = `"${choice.command}" (${SOURCE_WORDS[choice.source]})`;
    const wanted = `Python ${formatVersion(MIN_PYTHON)}+`;
    const fix = `Set codeEvolver.interpreter to a ${wanted} interpreter or install ${wanted}.`;
    switch (check.kind) {
        case 'missing':
            return `Code Evolver cannot start: the Python interpreter ${who} was not found. ${fix}`;
        case 'too-old':
            return `Code Evolver needs ${wanted}, but ${who} is Python ${formatVersion(check.version)}. ${fix}`;
        case 'unusable':
            return `Code Evolver cannot use the Python interpreter ${who}: ${check.detail}. ${fix}`;
    }
}

function lastLine(text: string): string {
    const lines = text.trim().split(/\r?\n/);
    return lines[lines.length - 1] || 'no output';
}
