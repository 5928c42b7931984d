// Bundles the extension and vscode-languageclient into dist/extension.js.
// Usage: node scripts/esbuild.mjs [--production] [--watch]
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const outdir = path.join(root, 'dist');

const options = {
    entryPoints: [path.join(root, 'src', 'extension.ts')],
    outfile: path.join(outdir, 'extension.js'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    // VS Code 1.82 runs extensions on Node 18.
    target: 'node18',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
    sourcesContent: false,
    logLevel: 'info',
};

// vscode-languageclient kills a server that ignores shutdown with this script, found next to its
// own code; once bundled, "next to its code" is dist/.
async function copyTerminateScript() {
    const require = createRequire(import.meta.url);
    const clientPackage = require.resolve('vscode-languageclient/package.json');
    const script = path.join(path.dirname(clientPackage), 'lib', 'node', 'terminateProcess.sh');
    await mkdir(outdir, { recursive: true });
    await copyFile(script, path.join(outdir, 'terminateProcess.sh'));
}

await copyTerminateScript();
if (watch) {
    const context = await esbuild.context(options);
    await context.watch();
} else {
    await esbuild.build(options);
}
