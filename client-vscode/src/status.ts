/** What the status bar shows for each state of the server and its model endpoints. */
import { CLIENT_COMMANDS, SERVER_COMMANDS } from './commandIds';

/** The payload of the `codeEvolver/status` notification and of `codeEvolver.showStatus`. */
export interface EndpointStatus {
    readonly healthy: number;
    readonly total: number;
    readonly text: string;
    /** Set when the server cannot work at all (its worker process cannot start): the sentence. */
    readonly problem?: string;
    /** Slots in use, slots configured (max_parallel) and requests queued client-side, when known. */
    readonly routing?: RoutingLoad;
}

export interface RoutingLoad {
    readonly inUse: number;
    readonly slots: number;
    readonly queued: number;
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
    const { healthy, total, text, problem, inUse, slots, queued } = value as Record<string, unknown>;
    if (!isCount(healthy) || !isCount(total)) {
        return undefined;
    }
    const base: EndpointStatus = { healthy, total, text: typeof text === 'string' ? text : '' };
    const status: EndpointStatus =
        isCount(inUse) && isCount(slots) && isCount(queued) ? { ...base, routing: { inUse, slots, queued } } : base;
    return typeof problem === 'string' && problem !== '' ? { ...status, problem } : status;
}

/** " · 3/6 busy · 2 queued": only the parts that say something. */
function loadText(routing: RoutingLoad | undefined): string {
    if (routing === undefined) {
        return '';
    }
    const busy = routing.slots > 0 ? ` · ${routing.inUse}/${routing.slots} busy` : '';
    const queued = routing.queued > 0 ? ` · ${routing.queued} queued` : '';
    return busy + queued;
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
        text: `$(pulse) Code Evolver ${status.healthy}/${status.total}${loadText(status.routing)}`,
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
