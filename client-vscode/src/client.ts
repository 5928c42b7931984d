/** Builds the LanguageClient: what it sends the server, and how it reacts to the server failing. */
import type * as vscode from 'vscode';
import {
    CloseAction,
    ErrorAction,
    type ErrorHandler,
    type Executable,
    LanguageClient,
    type LanguageClientOptions,
    RevealOutputChannelOn,
    State,
} from 'vscode-languageclient/node';
import { executeCommandMiddleware } from './commands';
import type { ServerLaunch } from './serverCommand';
import { type ServerOptions, SETTINGS_SECTION } from './settings';
import { type EndpointStatus, parseEndpointStatus } from './status';

const CLIENT_ID = 'codeEvolver';
const CLIENT_NAME = 'Code Evolver';
const STATUS_NOTIFICATION = 'codeEvolver/status';

export interface ClientHooks {
    readonly log: vscode.LogOutputChannel;
    /** Read at every (re)start and for every configuration pull, so it is always current. */
    readonly serverOptions: () => ServerOptions;
    readonly onStatus: (status: EndpointStatus) => void;
}

export function createClient(launch: ServerLaunch, cwd: string, hooks: ClientHooks): LanguageClient {
    const executable: Executable = {
        command: launch.command,
        args: [...launch.args],
        options: { cwd, env: { ...launch.env } },
    };
    const errors = new StartAwareErrorHandler(hooks.log);
    const clientOptions: LanguageClientOptions = {
        // Any file on disk or unsaved: the server decides per language what it can do.
        documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
        outputChannel: hooks.log,
        traceOutputChannel: hooks.log,
        revealOutputChannelOn: RevealOutputChannelOn.Never,
        initializationOptions: hooks.serverOptions,
        errorHandler: errors,
        initializationFailedHandler: (error) => {
            // The client would also pop up the bare JSON-RPC error; its start failure message is enough.
            hooks.log.error(`The server failed to initialize: ${String(error)}`);
            return false;
        },
        middleware: {
            executeCommand: executeCommandMiddleware({
                client: () => client,
                log: hooks.log,
                onStatus: hooks.onStatus,
            }),
            workspace: {
                // A server that pulls `codeEvolver` gets the same shape it is pushed.
                configuration: async (params, token, next) => {
                    const values = await next(params, token);
                    if (!Array.isArray(values)) {
                        return values;
                    }
                    return params.items.map((item, index): unknown =>
                        item.section === SETTINGS_SECTION ? hooks.serverOptions() : values[index],
                    );
                },
            },
        },
    };
    const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, executable, clientOptions);
    errors.attach(client);
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
        const status = parseEndpointStatus(params);
        if (status === undefined) {
            hooks.log.warn(`Ignored a malformed ${STATUS_NOTIFICATION} notification: ${JSON.stringify(params)}`);
            return;
        }
        hooks.onStatus(status);
    });
    return client;
}

/**
 * A server that dies before it ever ran (missing module, bad config) would die again on every
 * restart, so it is not restarted; one that ran and crashed gets the client's usual restarts.
 */
class StartAwareErrorHandler implements ErrorHandler {
    private usual: ErrorHandler | undefined;
    private hasRun = false;

    constructor(private readonly log: vscode.LogOutputChannel) {}

    attach(client: LanguageClient): void {
        this.usual = client.createDefaultErrorHandler();
        client.onDidChangeState(({ newState }) => {
            if (newState === State.Running) {
                this.hasRun = true;
            }
        });
    }

    error: ErrorHandler['error'] = (error, message, count) =>
        this.usual?.error(error, message, count) ?? { action: ErrorAction.Shutdown };

    closed: ErrorHandler['closed'] = () => {
        if (!this.hasRun || this.usual === undefined) {
            this.log.error('The server exited while starting; its output above says why.');
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        return this.usual.closed();
    };
}
