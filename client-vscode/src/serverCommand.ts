/** Builds the command line and environment that start the language server. */
import * as path from 'node:path';

export type ServerSource = 'bundled' | 'installed';

export interface ServerLaunch {
    readonly command: string;
    readonly args: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly source: ServerSource;
}

export interface LaunchInput {
    readonly python: string;
    readonly source: ServerSource;
    /** `<extension>/bundled/libs`; put on PYTHONPATH when the source is `bundled`. */
    readonly bundledLibs: string;
    readonly configPath: string | null;
    readonly baseEnv: NodeJS.ProcessEnv;
    readonly pathDelimiter?: string;
}

export function buildServerLaunch(input: LaunchInput): ServerLaunch {
    const args = ['-m', 'code_evolver', 'lsp'];
    if (input.configPath !== null) {
        args.push('--config', input.configPath);
    }
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(input.baseEnv)) {
        if (value !== undefined) {
            env[key] = value;
        }
    }
    // The server's log lines should reach the output channel as they are written.
    env.PYTHONUNBUFFERED = '1';
    if (input.source === 'bundled') {
        const delimiter = input.pathDelimiter ?? path.delimiter;
        const existing = env.PYTHONPATH ?? '';
        env.PYTHONPATH = existing === '' ? input.bundledLibs : `${input.bundledLibs}${delimiter}${existing}`;
        // The server takes exactly this entry off PYTHONPATH for runs of the user's code.
        env.CODE_EVOLVER_BUNDLED_PATH = input.bundledLibs;
    }
    return { command: input.python, args, env, source: input.source };
}

export type ServerSourceChoice = { readonly source: ServerSource; readonly note?: string } | { readonly error: string };

/**
 * Bundled unless the user opted out and has the server installed. When the extension was built
 * without `npm run bundle-python`, an installed server still lets it work.
 */
export async function chooseServerSource(
    useBundledServer: boolean,
    bundledPresent: boolean,
    canImportInstalled: () => Promise<boolean>,
    bundledLibs: string,
): Promise<ServerSourceChoice> {
    if (!useBundledServer && (await canImportInstalled())) {
        return { source: 'installed' };
    }
    if (bundledPresent) {
        const note = useBundledServer
            ? undefined
            : 'codeEvolver.useBundledServer is off but the interpreter cannot import code_evolver; using the bundled server.';
        return note === undefined ? { source: 'bundled' } : { source: 'bundled', note };
    }
    if (useBundledServer && (await canImportInstalled())) {
        return {
            source: 'installed',
            note: `The bundled server is missing (${bundledLibs}); using the installed one.`,
        };
    }
    return {
        error:
            `Code Evolver has no server to run: the bundled server is missing (${bundledLibs}) and the interpreter ` +
            'cannot import code_evolver. Install the server into that interpreter (pip install <Code Evolver checkout>) ' +
            'or rebuild the extension with "npm run package".',
    };
}

/** The command line as one readable string for the log. */
export function describeLaunch(launch: ServerLaunch): string {
    const quote = (part: string): string => (/[\s"']/.test(part) ? JSON.stringify(part) : part);
    const line = [launch.command, ...launch.args].map(quote).join(' ');
    return launch.source === 'bundled'
        ? `${line} (bundled server, PYTHONPATH=${launch.env.PYTHONPATH ?? ''})`
        : `${line} (installed server)`;
}
