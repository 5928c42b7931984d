/** What the status bar shows for each state of the server and its model endpoints. */
import { CLIENT_COMMANDS, SERVER_COMMANDS } from './commandIds';

/** The payload of the `codeEvolver/status` notification and of `codeEvolver.showStatus`. */
export interface EndpointStatus {
    readonly healthy: number;
    readonly total: number;
    readonly text: string;
    /** Set when the server cannot work at all (its worker process cannot start): the sentence. */
    readonly problem?: string;
}

export type StatusSeverity = 'normal' | 'warning' | 'error';

export interface StatusView {
    readonly text: string;
    readonly tooltip: string;
    readonly severity: StatusSeverity;
    /** The command a click runs. */
    readonly command: string;
}

/** Accepts only a well-formed payload: a notification handler must never throw on bad input. */
export function parseEndpointStatus(value: unknown): EndpointStatus | undefined {
    if (typeof value !== 'object' || value === null) {
        return undefined;
    }
    const { healthy, total, text, problem } = value as Record<string, unknown>;
    if (!isCount(healthy) || !isCount(total)) {
        return undefined;
    }
    const status = { healthy, total, text: typeof text === 'string' ? text : '' };
    return typeof problem === 'string' && problem !== '' ? { ...status, problem } : status;
}

function isCount(value: unknown): value is number {
    return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export function viewForStatus(status: EndpointStatus): StatusView {
    if (status.problem !== undefined) {
        return viewForFailure(status.problem);
    }
    const summary = `${status.healthy} of ${status.total} model endpoints usable`;
    return {
        text: `$(pulse) Code Evolver ${status.healthy}/${status.total}`,
        tooltip: status.text === '' ? summary : `${summary}\n\n${status.text}`,
        severity: status.healthy === 0 ? 'warning' : 'normal',
        command: SERVER_COMMANDS.showStatus,
    };
}

export const STARTING_VIEW: StatusView = {
    text: '$(loading~spin) Code Evolver: starting',
    tooltip: 'The Code Evolver server is starting.',
    severity: 'normal',
    command: CLIENT_COMMANDS.showLogs,
};

export function viewForFailure(message: string): StatusView {
    return {
        text: '$(error) Code Evolver',
        tooltip: `${message}\n\nClick to show the logs.`,
        severity: 'error',
        command: CLIENT_COMMANDS.showLogs,
    };
}
