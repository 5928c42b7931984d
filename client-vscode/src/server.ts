/** Starts, restarts and stops the language server and the client that talks to it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DidChangeConfigurationNotification, type LanguageClient, State } from 'vscode-languageclient/node';
import { createClient } from './client';
import { canImportServer, checkInterpreter, chooseInterpreter, describeProblem, formatVersion } from './interpreter';
import { activeInterpreter } from './pythonExtension';
import { runProcess } from './runProcess';
import { buildServerLaunch, chooseServerSource, describeLaunch, type ServerLaunch } from './serverCommand';
import {
    buildServerOptions,
    type ExtensionSettings,
    type PathContext,
    readSettings,
    resolveConfigPath,
    resolveInterpreterPath,
    type ServerOptions,
    SETTINGS_SECTION,
} from './settings';
import { STARTING_VIEW, viewForFailure, viewForStatus } from './status';
import type { StatusBar } from './statusBar';

const RUNNING_CONTEXT_KEY = 'codeEvolver.serverRunning';

export class ServerController implements vscode.Disposable {
    private client: LanguageClient | undefined;
    /** The client being started; its status notifications count before start() returns. */
    private startingClient: LanguageClient | undefined;
    /** Starts and stops run one after another, so quick setting changes cannot start two servers. */
    private queue: Promise<void> = Promise.resolve();
    private stoppingOnPurpose = false;
    private interpreter: string | undefined;

    constructor(
        private readonly extensionPath: string,
        private readonly log: vscode.LogOutputChannel,
        private readonly statusBar: StatusBar,
    ) {}

    /** The interpreter of the last start, whether it worked or not. */
    get lastInterpreter(): string | undefined {
        return this.interpreter;
    }

    /** The settings as they are now. */
    settings(): ExtensionSettings {
        const configuration = vscode.workspace.getConfiguration(SETTINGS_SECTION);
        return readSettings((key) => configuration.get(key));
    }

    start(): Promise<void> {
        return this.enqueue(() => this.startNow());
    }

    restart(reason: string): Promise<void> {
        return this.enqueue(async () => {
            this.log.info(`Restarting the server: ${reason}.`);
            await this.stopNow();
            await this.startNow();
        });
    }

    stop(): Promise<void> {
        return this.enqueue(() => this.stopNow());
    }

    /** Tells the running server about changed settings (docs/CONTRACTS.md: `settings.codeEvolver`). */
    async sendSettings(): Promise<void> {
        const client = this.client;
        if (client?.state !== State.Running) {
            return;
        }
        try {
            await client.sendNotification(DidChangeConfigurationNotification.type, {
                settings: { [SETTINGS_SECTION]: this.serverOptions() },
            });
        } catch (error) {
            this.log.error(`Sending the settings to the server failed: ${String(error)}`);
        }
    }

    /**
     * The Python extension's active interpreter. Not asked in an untrusted workspace, where it may
     * well be the workspace's own virtual environment.
     */
    async pythonExtensionInterpreter(): Promise<string | undefined> {
        if (!vscode.workspace.isTrusted) {
            this.log.info("Restricted Mode: the Python extension's interpreter is not used.");
            return undefined;
        }
        return activeInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri, this.log);
    }

    dispose(): void {
        void this.stop();
    }

    private enqueue(step: () => Promise<void>): Promise<void> {
        this.queue = this.queue.then(step).catch((error: unknown) => {
            this.log.error(`Server lifecycle step failed: ${String(error)}`);
        });
        return this.queue;
    }

    /** In an untrusted workspace, paths never point into the workspace: it must not choose what runs. */
    private pathContext(): PathContext {
        const folder = vscode.workspace.workspaceFolders?.[0];
        return vscode.workspace.isTrusted && folder?.uri.scheme === 'file'
            ? { workspaceFolder: folder.uri.fsPath }
            : {};
    }

    private serverOptions(): ServerOptions {
        return buildServerOptions(
            this.settings(),
            vscode.workspace.isTrusted,
            this.pathContext(),
            this.interpreter,
        );
    }

    private async startNow(): Promise<void> {
        this.statusBar.show(STARTING_VIEW);
        await setRunningContext(false);
        const launch = await this.resolveLaunch();
        if (launch === undefined) {
            return;
        }
        this.log.info(`Starting the server: ${describeLaunch(launch)}`);
        const client = this.createClient(launch);
        this.startingClient = client;
        let failure = 'it exited while starting';
        try {
            await client.start();
        } catch (error) {
            failure = String(error);
        } finally {
            this.startingClient = undefined;
        }
        // start() can also resolve after a failure, when the process exited before the handshake ended.
        if (!client.isRunning()) {
            // The client has already logged the cause and offered the output channel.
            this.statusBar.show(viewForFailure(`The server failed to start (${failure}). Its output is in the log.`));
            await disposeQuietly(client);
            return;
        }
        this.client = client;
    }

    private async stopNow(): Promise<void> {
        const client = this.client;
        this.client = undefined;
        if (client === undefined) {
            return;
        }
        this.stoppingOnPurpose = true;
        try {
            await disposeQuietly(client);
        } finally {
            this.stoppingOnPurpose = false;
        }
        await setRunningContext(false);
    }

    /** Picks and checks the interpreter and the server it runs; on a problem, shows it and returns undefined. */
    private async resolveLaunch(): Promise<ServerLaunch | undefined> {
        const settings = this.settings();
        const context = this.pathContext();
        const configured = resolveInterpreterPath(settings.interpreter, context);
        const fromExtension = configured === '' ? await this.pythonExtensionInterpreter() : undefined;
        const choice = chooseInterpreter(configured, fromExtension, process.platform);
        this.interpreter = choice.command;
        const run: typeof runProcess = (command, args, options) =>
            runProcess(command, args, { cwd: this.extensionPath, ...options });
        const check = await checkInterpreter(choice.command, run);
        if (check.kind !== 'ok') {
            this.fail(describeProblem(choice, check), true);
            return undefined;
        }
        this.log.info(`Python ${formatVersion(check.version)} at ${choice.command} (${choice.source}).`);

        const bundledLibs = path.join(this.extensionPath, 'bundled', 'libs');
        const bundledPresent = fs.existsSync(path.join(bundledLibs, 'code_evolver'));
        const source = await chooseServerSource(
            settings.useBundledServer,
            bundledPresent,
            () => canImportServer(choice.command, run),
            bundledLibs,
        );
        if ('error' in source) {
            this.fail(source.error);
            return undefined;
        }
        if (source.note !== undefined) {
            this.log.warn(source.note);
        }
        return buildServerLaunch({
            python: choice.command,
            source: source.source,
            bundledLibs,
            configPath: resolveConfigPath(settings.configPath, context),
            baseEnv: process.env,
        });
    }

    private createClient(launch: ServerLaunch): LanguageClient {
        // The working directory is not the workspace: `python -m` puts it first on sys.path, and
        // an untrusted workspace must not be able to shadow the server's modules.
        const client = createClient(launch, this.extensionPath, {
            log: this.log,
            serverOptions: () => this.serverOptions(),
            onStatus: (status) => {
                // A client that failed to start or was replaced must not overwrite the state shown.
                if (client === this.client || client === this.startingClient) {
                    this.statusBar.show(viewForStatus(status));
                }
            },
        });
        client.onDidChangeState(({ newState }) => {
            void setRunningContext(newState === State.Running);
            if (newState === State.Starting) {
                this.statusBar.show(STARTING_VIEW);
            } else if (newState === State.Stopped && !this.stoppingOnPurpose && this.client === client) {
                this.statusBar.show(
                    viewForFailure('The server stopped. Run "Code Evolver: Restart Server" to start it again.'),
                );
            }
        });
        return client;
    }

    /** Logs and shows the problem without waiting for the user, so the lifecycle queue moves on. */
    private fail(message: string, offerSettings = false): void {
        this.log.error(message);
        this.statusBar.show(viewForFailure(message));
        void this.offerHelp(message, offerSettings);
    }

    private async offerHelp(message: string, offerSettings: boolean): Promise<void> {
        const openSettings = 'Open Settings';
        const showLogs = 'Show Logs';
        const buttons = offerSettings ? [openSettings, showLogs] : [showLogs];
        const picked = await vscode.window.showErrorMessage(message, ...buttons);
        if (picked === openSettings) {
            await vscode.commands.executeCommand('workbench.action.openSettings', `${SETTINGS_SECTION}.interpreter`);
        } else if (picked === showLogs) {
            this.log.show();
        }
    }
}

async function setRunningContext(running: boolean): Promise<void> {
    await vscode.commands.executeCommand('setContext', RUNNING_CONTEXT_KEY, running);
}

async function disposeQuietly(client: LanguageClient): Promise<void> {
    try {
        await client.dispose();
    } catch {
        // A client that never got running cannot be stopped; there is nothing left to clean up.
    }
}
