/** Runs a short-lived helper process (an interpreter check) and captures what it printed. */
import { execFile } from 'node:child_process';

export interface ProcessResult {
    /** null when the process could not be started, was killed or timed out. */
    readonly exitCode: number | null;
    readonly stdout: string;
    readonly stderr: string;
    /** Node's error code when the process could not start, e.g. `ENOENT` for a missing file. */
    readonly spawnError?: string;
    readonly timedOut: boolean;
}

export interface RunOptions {
    readonly env?: NodeJS.ProcessEnv;
    readonly cwd?: string;
    readonly timeoutMs?: number;
}

export type RunProcess = (command: string, args: readonly string[], options?: RunOptions) => Promise<ProcessResult>;

const DEFAULT_TIMEOUT_MS = 20_000;

/** Never rejects: every failure is described in the result. */
export const runProcess: RunProcess = (command, args, options = {}) =>
    new Promise((resolve) => {
        const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
        execFile(
            command,
            [...args],
            { env: options.env, cwd: options.cwd, timeout, windowsHide: true, encoding: 'utf8' },
            (error, stdout, stderr) => {
                if (error === null) {
                    resolve({ exitCode: 0, stdout, stderr, timedOut: false });
                    return;
                }
                const timedOut = error.killed === true;
                const spawnError = typeof error.code === 'string' ? error.code : undefined;
                resolve({
                    exitCode: typeof error.code === 'number' ? error.code : null,
                    stdout,
                    stderr,
                    ...(spawnError !== undefined ? { spawnError } : {}),
                    timedOut,
                });
            },
        );
    });
