/** The ids of the commands in package.json: the server's own, and those the extension handles. */

/** Registered by vscode-languageclient from the server's executeCommandProvider. */
export const SERVER_COMMANDS = {
    fixDiagnostics: 'codeEvolver.fixDiagnostics',
    generateFunction: 'codeEvolver.generateFunction',
    generateTests: 'codeEvolver.generateTests',
    showStatus: 'codeEvolver.showStatus',
} as const;

/** Work without a running server. */
export const CLIENT_COMMANDS = {
    restartServer: 'codeEvolver.restartServer',
    showLogs: 'codeEvolver.showLogs',
} as const;
