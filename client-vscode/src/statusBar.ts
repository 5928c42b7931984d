/** The status bar item that shows how many model endpoints the server can use. */
import * as vscode from 'vscode';
import { STARTING_VIEW, type StatusView } from './status';

const BACKGROUNDS = {
    normal: undefined,
    warning: new vscode.ThemeColor('statusBarItem.warningBackground'),
    error: new vscode.ThemeColor('statusBarItem.errorBackground'),
} as const;

export class StatusBar implements vscode.Disposable {
    private readonly item: vscode.StatusBarItem;

    constructor() {
        this.item = vscode.window.createStatusBarItem('codeEvolver.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'Code Evolver';
        this.show(STARTING_VIEW);
        this.item.show();
    }

    show(view: StatusView): void {
        this.item.text = view.text;
        this.item.tooltip = view.tooltip;
        this.item.command = view.command;
        this.item.backgroundColor = BACKGROUNDS[view.severity];
    }

    dispose(): void {
        this.item.dispose();
    }
}
