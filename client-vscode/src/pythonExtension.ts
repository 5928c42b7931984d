/** Asks the optional Python extension (ms-python.python) which interpreter is active. */
import * as vscode from 'vscode';

const PYTHON_EXTENSION_ID = 'ms-python.python';

// The few members of the Python extension's API used here; it is optional, so nothing is imported from it.
interface EnvironmentPath {
    readonly id: string;
    readonly path: string;
}

interface ResolvedEnvironment {
    readonly executable: { readonly uri?: vscode.Uri };
}

interface PythonEnvironmentsApi {
    getActiveEnvironmentPath(resource?: vscode.Uri): EnvironmentPath;
    resolveEnvironment(environment: EnvironmentPath | string): Promise<ResolvedEnvironment | undefined>;
    readonly onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
}

interface PythonExtensionApi {
    readonly environments?: Partial<PythonEnvironmentsApi>;
}

async function environmentsApi(log: vscode.LogOutputChannel): Promise<Partial<PythonEnvironmentsApi> | undefined> {
    const extension = vscode.extensions.getExtension<PythonExtensionApi | undefined>(PYTHON_EXTENSION_ID);
    if (extension === undefined) {
        return undefined;
    }
    try {
        const api = extension.isActive ? extension.exports : await extension.activate();
        return api?.environments;
    } catch (error) {
        log.warn(`The Python extension could not be activated: ${String(error)}`);
        return undefined;
    }
}

/** The active interpreter's executable, or undefined without the Python extension or an interpreter. */
export async function activeInterpreter(
    resource: vscode.Uri | undefined,
    log: vscode.LogOutputChannel,
): Promise<string | undefined> {
    const environments = await environmentsApi(log);
    if (
        typeof environments?.getActiveEnvironmentPath !== 'function' ||
        typeof environments.resolveEnvironment !== 'function'
    ) {
        return undefined;
    }
    try {
        const active = environments.getActiveEnvironmentPath(resource);
        const resolved = await environments.resolveEnvironment(active);
        return resolved?.executable.uri?.fsPath;
    } catch (error) {
        log.warn(`The Python extension did not tell its active interpreter: ${String(error)}`);
        return undefined;
    }
}

/** Calls `listener` when the user picks another interpreter in the Python extension. */
export async function onActiveInterpreterChange(
    listener: () => void,
    log: vscode.LogOutputChannel,
): Promise<vscode.Disposable | undefined> {
    const environments = await environmentsApi(log);
    const event = environments?.onDidChangeActiveEnvironmentPath;
    return typeof event === 'function'
        ? event(() => {
              listener();
          })
        : undefined;
}
