import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEndpointStatus, STARTING_VIEW, viewForFailure, viewForStatus } from '../src/status';

describe('parseEndpointStatus', () => {
    it('accepts the notification payload', () => {
        assert.deepEqual(parseEndpointStatus({ healthy: 2, total: 3, text: 'ok' }), {
            healthy: 2,
            total: 3,
            text: 'ok',
        });
    });

    it('tolerates a missing text', () => {
        assert.deepEqual(parseEndpointStatus({ healthy: 0, total: 1 }), { healthy: 0, total: 1, text: '' });
    });

    it('keeps the problem sentence when the server cannot work', () => {
        assert.deepEqual(parseEndpointStatus({ healthy: 0, total: 0, text: '', problem: 'No worker.' }), {
            healthy: 0,
            total: 0,
            text: '',
            problem: 'No worker.',
        });
        assert.deepEqual(parseEndpointStatus({ healthy: 1, total: 1, problem: 7 }), { healthy: 1, total: 1, text: '' });
    });

    it('rejects malformed payloads instead of throwing', () => {
        for (const bad of [
            null,
            undefined,
            'x',
            3,
            [],
            { healthy: '2', total: 3 },
            { healthy: -1, total: 3 },
            { healthy: 1.5, total: 3 },
        ]) {
            assert.equal(parseEndpointStatus(bad), undefined, JSON.stringify(bad));
        }
    });
});

describe('routing load', () => {
    it('keeps slots in use, slots and the queue when all three are counts', () => {
        assert.deepEqual(parseEndpointStatus({ healthy: 3, total: 3, text: '', inUse: 4, slots: 6, queued: 2 }), {
            healthy: 3,
            total: 3,
            text: '',
            routing: { inUse: 4, slots: 6, queued: 2 },
        });
        assert.deepEqual(parseEndpointStatus({ healthy: 1, total: 1, inUse: 1, slots: '2', queued: 0 }), {
            healthy: 1,
            total: 1,
            text: '',
        });
    });

    it('shows busy slots and the queue beside the endpoint count', () => {
        const status = { healthy: 3, total: 3, text: 'tier 0, weight 2, slots 2/2' };
        assert.equal(
            viewForStatus({ ...status, routing: { inUse: 4, slots: 6, queued: 2 } }).text,
            '$(pulse) Code Evolver 3/3 · 4/6 busy · 2 queued',
        );
        assert.equal(
            viewForStatus({ ...status, routing: { inUse: 0, slots: 0, queued: 0 } }).text,
            '$(pulse) Code Evolver 3/3',
        );
        assert.match(viewForStatus(status).tooltip, /tier 0, weight 2, slots 2\/2/);
    });
});

describe('viewForStatus', () => {
    it('shows healthy/total and opens the status on click', () => {
        const view = viewForStatus({ healthy: 2, total: 3, text: 'gpu-box: down' });
        assert.equal(view.text, '$(pulse) Code Evolver 2/3');
        assert.equal(view.severity, 'normal');
        assert.equal(view.command, 'codeEvolver.showStatus');
        assert.match(view.tooltip, /2 of 3 model endpoints usable/);
        assert.match(view.tooltip, /gpu-box: down/);
    });

    it('warns when no endpoint is usable', () => {
        assert.equal(viewForStatus({ healthy: 0, total: 2, text: '' }).severity, 'warning');
    });

    it('shows a problem as an error that opens the logs', () => {
        const view = viewForStatus({ healthy: 0, total: 0, text: '', problem: 'The worker could not start.' });
        assert.equal(view.severity, 'error');
        assert.equal(view.command, 'codeEvolver.showLogs');
        assert.match(view.tooltip, /^The worker could not start\./);
    });
});

describe('other states', () => {
    it('says starting before the first notification', () => {
        assert.match(STARTING_VIEW.text, /Code Evolver: starting$/);
    });

    it('shows an error that opens the logs', () => {
        const view = viewForFailure('Python too old');
        assert.equal(view.severity, 'error');
        assert.equal(view.command, 'codeEvolver.showLogs');
        assert.match(view.tooltip, /^Python too old/);
    });
});
