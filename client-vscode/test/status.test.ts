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
