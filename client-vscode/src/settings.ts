/** Turns the `codeEvolver.*` settings into the options the server gets at start and on change. */
import * as os from 'node:os';
import * as path from 'node:path';

export const SETTINGS_SECTION = 'codeEvolver';

export interface ExtensionSettings {
    /** Empty: the server finds its config.yaml itself. */
    readonly configPath: string;
    /** Empty: pick the interpreter automatically. */
    readonly interpreter: string;
    readonly useBundledServer: boolean;
    readonly maxAttempts: number;
    readonly runOnSave: boolean;
}

export const DEFAULT_SETTINGS: ExtensionSettings = {
    configPath: '',
    interpreter: '',
    useBundledServer: true,
    maxAttempts: 3,
    runOnSave: false,
};

export const MAX_ATTEMPTS_RANGE = { min: 1, max: 10 } as const;

/** A change to one of these needs a new server process. */
export const RESTART_SETTINGS = ['configPath', 'interpreter', 'useBundledServer'] as const;
/** A change to one of these is sent to the running server. */
export const LIVE_SETTINGS = ['maxAttempts', 'runOnSave'] as const;

/** Same shape as the server's config.yaml. */
export interface ServerOverrides {
    readonly fix: { readonly max_attempts: number };
    readonly run_on_save: boolean;
    /** The project's interpreter for the server's runs (`{python}`): the one the server was started with. */
    readonly python?: string;
}

/** What docs/CONTRACTS.md calls initializationOptions (and `settings.codeEvolver`). */
export interface ServerOptions {
    readonly configPath: string | null;
    readonly workspaceTrusted: boolean;
    readonly overrides: ServerOverrides;
}

/** Where `~`, `${workspaceFolder}` and relative paths point. */
export interface PathContext {
    readonly workspaceFolder?: string;
    readonly homeDir?: string;
}

/**
 * Reads the settings through `get` (for example `WorkspaceConfiguration.get`), falling back to the
 * defaults for values of the wrong type: a hand-edited settings.json must not stop the server.
 */
export function readSettings(get: (key: keyof ExtensionSettings) => unknown): ExtensionSettings {
    const text = (key: 'configPath' | 'interpreter'): string => {
        const value = get(key);
        return typeof value === 'string' ? value.trim() : DEFAULT_SETTINGS[key];
    };
    const flag = (key: 'useBundledServer' | 'runOnSave'): boolean => {
        const value = get(key);
        return typeof value === 'boolean' ? value : DEFAULT_SETTINGS[key];
    };
    return {
        configPath: text('configPath'),
        interpreter: text('interpreter'),
        useBundledServer: flag('useBundledServer'),
        maxAttempts: clampAttempts(get('maxAttempts')),
        runOnSave: flag('runOnSave'),
    };
}

function clampAttempts(value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
        return DEFAULT_SETTINGS.maxAttempts;
    }
    const whole = Math.round(value);
    return Math.min(MAX_ATTEMPTS_RANGE.max, Math.max(MAX_ATTEMPTS_RANGE.min, whole));
}

/** Expands `~`, `${userHome}` and `${workspaceFolder}`; leaves everything else as written. */
export function expandPathVariables(raw: string, context: PathContext): string {
    const home = context.homeDir ?? os.homedir();
    let result = raw.replace(/\$\{userHome\}/g, home);
    if (context.workspaceFolder !== undefined) {
        result = result.replace(/\$\{workspaceFolder\}/g, context.workspaceFolder);
    }
    if (result === '~' || result.startsWith('~/') || result.startsWith('~\\')) {
        result = home + result.slice(1);
    }
    return result;
}

/** The config.yaml path as an absolute path, or null when the server should look for it itself. */
export function resolveConfigPath(raw: string, context: PathContext): string | null {
    if (raw === '') {
        return null;
    }
    const expanded = expandPathVariables(raw, context);
    if (path.isAbsolute(expanded) || context.workspaceFolder === undefined) {
        return expanded;
    }
    return path.resolve(context.workspaceFolder, expanded);
}

/**
 * The interpreter setting with variables expanded. A bare name such as `python3.12` stays a
 * name to look up on PATH; a relative path such as `.venv/bin/python` is taken from the workspace.
 */
export function resolveInterpreterPath(raw: string, context: PathContext): string {
    const expanded = expandPathVariables(raw, context);
    const isBareName = !expanded.includes('/') && !expanded.includes('\\');
    if (isBareName || path.isAbsolute(expanded) || context.workspaceFolder === undefined) {
        return expanded;
    }
    return path.resolve(context.workspaceFolder, expanded);
}

export function buildServerOptions(
    settings: ExtensionSettings,
    workspaceTrusted: boolean,
    context: PathContext,
    interpreter?: string,
): ServerOptions {
    return {
        configPath: resolveConfigPath(settings.configPath, context),
        workspaceTrusted,
        overrides: {
            fix: { max_attempts: settings.maxAttempts },
            run_on_save: settings.runOnSave,
            // The interpreter chosen for the server (codeEvolver.interpreter, else the Python
            // extension's) is the project's: the user's runs use it and its packages.
            ...(interpreter === undefined ? {} : { python: interpreter }),
        },
    };
}

/** Which of `keys` a configuration change touched, given VS Code's `affectsConfiguration`. */
export function changedSettings<K extends keyof ExtensionSettings>(
    keys: readonly K[],
    affects: (section: string) => boolean,
): K[] {
    return keys.filter((key) => affects(`${SETTINGS_SECTION}.${key}`));
}
