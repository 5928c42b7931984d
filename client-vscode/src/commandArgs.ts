/** Fills in the argument of a server command that was run from the palette without one. */
import { SERVER_COMMANDS } from './commandIds';

/** The server commands that act on a place in a document. */
const EDITOR_COMMANDS: ReadonlySet<string> = new Set([
    SERVER_COMMANDS.fixDiagnostics,
    SERVER_COMMANDS.generateFunction,
    SERVER_COMMANDS.generateTests,
]);

export interface LspPosition {
    readonly line: number;
    readonly character: number;
}

export interface LspRange {
    readonly start: LspPosition;
    readonly end: LspPosition;
}

/** The active editor as the server sees it. */
export interface EditorSnapshot {
    readonly uri: string;
    readonly version: number;
    readonly selection: LspRange;
}

export interface CommandArgument {
    readonly uri: string;
    readonly version: number;
    readonly range?: LspRange;
    readonly diagnostics?: readonly unknown[];
}

export function needsEditor(command: string): boolean {
    return EDITOR_COMMANDS.has(command);
}

/** A code action or another caller already passed `{uri, ...}`: leave it alone. */
export function hasArgument(args: readonly unknown[]): boolean {
    const first: unknown = args[0];
    return typeof first === 'object' && first !== null && typeof (first as { uri?: unknown }).uri === 'string';
}

export function isEmpty(range: LspRange): boolean {
    return range.start.line === range.end.line && range.start.character === range.end.character;
}

/**
 * The argument for an editor command. Fix Diagnostics with no selection fixes the whole file, so
 * it sends no range; the generate commands always send the selection, which may be just the cursor.
 * `diagnostics` are the ones VS Code shows (from any extension) in that range, sent only when there are some.
 */
export function buildCommandArgument(
    command: string,
    editor: EditorSnapshot,
    diagnostics: readonly { readonly range: LspRange }[] = [],
): CommandArgument {
    const wholeFile = command === SERVER_COMMANDS.fixDiagnostics && isEmpty(editor.selection);
    const range = wholeFile ? undefined : editor.selection;
    const argument: CommandArgument = { uri: editor.uri, version: editor.version, ...(range ? { range } : {}) };
    if (command !== SERVER_COMMANDS.fixDiagnostics) {
        return argument;
    }
    const relevant = range === undefined ? diagnostics : diagnostics.filter((d) => touches(d.range, range));
    return relevant.length > 0 ? { ...argument, diagnostics: relevant } : argument;
}

function before(a: LspPosition, b: LspPosition): boolean {
    return a.line < b.line || (a.line === b.line && a.character < b.character);
}

/** Whether two ranges overlap or meet, so a cursor on a diagnostic's edge still counts. */
export function touches(a: LspRange, b: LspRange): boolean {
    return !before(a.end, b.start) && !before(b.end, a.start);
}
