/** Entry point: wires the output channel, status bar, commands and setting changes to the server. */
import * as vscode from 'vscode';
import { registerClientCommands } from './commands';
import { onActiveInterpreterChange } from './pythonExtension';
import { ServerController } from './server';
import { changedSettings, LIVE_SETTINGS, RESTART_SETTINGS, SETTINGS_SECTION } from './settings';
import { StatusBar } from './statusBar';

let controller: ServerController | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const log = vscode.window.createOutputChannel('Code Evolver', { log: true });
    const statusBar = new StatusBar();
    const server = new ServerController(context.extensionPath, log, statusBar);
    controller = server;

    context.subscriptions.push(
        log,
        statusBar,
        server,
        registerClientCommands(() => server.restart('asked for by the user'), log),
        vscode.workspace.onDidChangeConfiguration((event) => {
            const affects = (section: string): boolean => event.affectsConfiguration(section);
            const needRestart = changedSettings(RESTART_SETTINGS, affects);
            if (needRestart.length > 0) {
                const names = needRestart.map((key) => `${SETTINGS_SECTION}.${key}`).join(', ');
                void server.restart(`${names} changed`);
            } else if (changedSettings(LIVE_SETTINGS, affects).length > 0) {
                void server.sendSettings();
            }
        }),
        vscode.workspace.onDidGrantWorkspaceTrust(() => {
            void server.restart('the workspace is now trusted');
        }),
    );

    await server.start();
    void watchPythonExtension(context, server, log);
}

export async function deactivate(): Promise<void> {
    await controller?.stop();
    controller = undefined;
}

/** Follows the Python extension's interpreter while codeEvolver.interpreter does not name one. */
async function watchPythonExtension(
    context: vscode.ExtensionContext,
    server: ServerController,
    log: vscode.LogOutputChannel,
): Promise<void> {
    const subscription = await onActiveInterpreterChange(() => {
        void restartIfInterpreterChanged(server);
    }, log);
    if (subscription !== undefined) {
        context.subscriptions.push(subscription);
    }
}

async function restartIfInterpreterChanged(server: ServerController): Promise<void> {
    if (server.settings().interpreter !== '') {
        return;
    }
    const active = await server.pythonExtensionInterpreter();
    if (active !== undefined && active !== server.lastInterpreter) {
        await server.restart(`the Python extension's interpreter is now ${active}`);
    }
}
