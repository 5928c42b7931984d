/** The client side of the commands: palette arguments for server commands, and the client-only commands. */
import * as vscode from 'vscode';
import type { BaseLanguageClient, Middleware } from 'vscode-languageclient/node';
import { buildCommandArgument, type CommandArgument, hasArgument, needsEditor } from './commandArgs';
import { CLIENT_COMMANDS, SERVER_COMMANDS } from './commandIds';
import { type EndpointStatus, parseEndpointStatus } from './status';

type ExecuteCommandMiddleware = NonNullable<Middleware['executeCommand']>;

export interface CommandHooks {
    readonly client: () => BaseLanguageClient | undefined;
    readonly log: vscode.LogOutputChannel;
    /** Told the endpoint status that Show Endpoint Status returned. */
    readonly onStatus: (status: EndpointStatus) => void;
}

/**
 * Runs between VS Code and the server for every server command. Code actions pass their own
 * argument; the palette passes none, so it is filled from the active editor here.
 */
export function executeCommandMiddleware(hooks: CommandHooks): ExecuteCommandMiddleware {
    return async (command, args: unknown[], next) => {
        let sent = args;
        if (needsEditor(command) && !hasArgument(args)) {
            const argument = await argumentFromActiveEditor(command, hooks.client());
            if (argument === undefined) {
                void vscode.window.showWarningMessage('Code Evolver: open a file in an editor first.');
                return undefined;
            }
            sent = [argument];
        }
        const result: unknown = await next(command, sent);
        if (command === SERVER_COMMANDS.showStatus) {
            showEndpointStatus(result, hooks);
        }
        return result;
    };
}

async function argumentFromActiveEditor(
    command: string,
    client: BaseLanguageClient | undefined,
): Promise<CommandArgument | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || client === undefined) {
        return undefined;
    }
    const converter = client.code2ProtocolConverter;
    const { document } = editor;
    const snapshot = {
        uri: converter.asUri(document.uri),
        version: document.version,
        selection: converter.asRange(editor.selection),
    };
    const diagnostics =
        command === SERVER_COMMANDS.fixDiagnostics
            ? await converter.asDiagnostics(vscode.languages.getDiagnostics(document.uri))
            : [];
    return buildCommandArgument(command, snapshot, diagnostics);
}

function showEndpointStatus(result: unknown, hooks: CommandHooks): void {
    const status = parseEndpointStatus(result);
    if (status === undefined) {
        hooks.log.warn(`codeEvolver.showStatus returned an unexpected reply: ${JSON.stringify(result)}`);
        return;
    }
    hooks.onStatus(status);
    hooks.log.info(`Endpoint status: ${status.healthy} of ${status.total} usable\n${status.text}`);
    hooks.log.show(true);
}

/** Restart Server and Show Logs work without a running server. */
export function registerClientCommands(restart: () => Promise<void>, log: vscode.LogOutputChannel): vscode.Disposable {
    return vscode.Disposable.from(
        vscode.commands.registerCommand(CLIENT_COMMANDS.restartServer, restart),
        vscode.commands.registerCommand(CLIENT_COMMANDS.showLogs, () => {
            log.show();
        }),
    );
}
