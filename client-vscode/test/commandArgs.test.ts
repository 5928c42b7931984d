import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCommandArgument, hasArgument, type LspRange, needsEditor, touches } from '../src/commandArgs';
import { SERVER_COMMANDS } from '../src/commandIds';

function range(startLine: number, startChar: number, endLine: number, endChar: number): LspRange {
    return { start: { line: startLine, character: startChar }, end: { line: endLine, character: endChar } };
}

const uri = 'file:///work/app.py';
const cursor = range(4, 2, 4, 2);
const selection = range(2, 0, 6, 0);

describe('needsEditor and hasArgument', () => {
    it('knows which commands act on a document', () => {
        assert.equal(needsEditor(SERVER_COMMANDS.fixDiagnostics), true);
        assert.equal(needsEditor(SERVER_COMMANDS.generateFunction), true);
        assert.equal(needsEditor(SERVER_COMMANDS.generateTests), true);
        assert.equal(needsEditor(SERVER_COMMANDS.showStatus), false);
        assert.equal(needsEditor('editor.action.format'), false);
    });

    it('leaves arguments from code actions alone', () => {
        assert.equal(hasArgument([{ uri, range: cursor }]), true);
        assert.equal(hasArgument([]), false);
        assert.equal(hasArgument([undefined]), false);
        assert.equal(hasArgument([{ range: cursor }]), false);
    });
});

describe('buildCommandArgument', () => {
    it('sends the selection for Generate Function, even an empty one', () => {
        assert.deepEqual(
            buildCommandArgument(SERVER_COMMANDS.generateFunction, { uri, version: 7, selection: cursor }),
            {
                uri,
                version: 7,
                range: cursor,
            },
        );
    });

    it('sends no diagnostics for Generate Tests', () => {
        const argument = buildCommandArgument(SERVER_COMMANDS.generateTests, { uri, version: 1, selection }, [
            { range: range(3, 0, 3, 5) },
        ]);
        assert.deepEqual(argument, { uri, version: 1, range: selection });
    });

    it('fixes the whole file when nothing is selected', () => {
        const everywhere = [{ range: range(0, 0, 0, 1) }, { range: range(40, 0, 40, 9) }];
        assert.deepEqual(
            buildCommandArgument(SERVER_COMMANDS.fixDiagnostics, { uri, version: 3, selection: cursor }, everywhere),
            {
                uri,
                version: 3,
                diagnostics: everywhere,
            },
        );
    });

    it('sends only the diagnostics the selection touches', () => {
        const inside = { range: range(3, 0, 3, 5) };
        const onEdge = { range: range(6, 0, 6, 4) };
        const outside = { range: range(9, 0, 9, 1) };
        const argument = buildCommandArgument(SERVER_COMMANDS.fixDiagnostics, { uri, version: 3, selection }, [
            inside,
            onEdge,
            outside,
        ]);
        assert.deepEqual(argument.diagnostics, [inside, onEdge]);
        assert.deepEqual(argument.range, selection);
    });

    it('leaves diagnostics out when there are none', () => {
        const argument = buildCommandArgument(SERVER_COMMANDS.fixDiagnostics, { uri, version: 3, selection }, []);
        assert.equal('diagnostics' in argument, false);
    });
});

describe('touches', () => {
    it('counts overlap and shared edges but not gaps', () => {
        assert.equal(touches(range(1, 0, 1, 5), range(1, 5, 1, 9)), true);
        assert.equal(touches(range(1, 0, 1, 5), range(1, 3, 1, 4)), true);
        assert.equal(touches(range(1, 0, 1, 5), range(1, 6, 1, 9)), false);
        assert.equal(touches(range(2, 0, 2, 1), range(1, 0, 1, 9)), false);
    });
});
