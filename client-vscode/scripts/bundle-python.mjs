// Installs the Code Evolver server and its Python dependencies into bundled/libs, so they ship
// inside the .vsix. Usage: node scripts/bundle-python.mjs [--python PATH]   (or PYTHON=PATH)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const extensionRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const projectRoot = path.dirname(extensionRoot);
const libs = path.join(extensionRoot, 'bundled', 'libs');
const MIN_PYTHON = [3, 10];

// Left out of the copy that pip builds from: the extension itself, earlier build output,
// virtual environments, and caches anywhere.
const SKIP_AT_TOP = new Set([
    '.git',
    'client-vscode',
    'node_modules',
    'build',
    'dist',
    '.venv',
    'venv',
    '.tox',
    '.nox',
]);
const SKIP_ANYWHERE = new Set(['__pycache__', '.mypy_cache', '.pytest_cache', '.ruff_cache', '.hypothesis']);

function fail(message) {
    console.error(`bundle-python: ${message}`);
    process.exit(1);
}

/** A half-made bundle must not look like a server to the extension. */
function failAndRemoveBundle(message) {
    rmSync(libs, { recursive: true, force: true });
    fail(message);
}

function pickPython() {
    const flag = process.argv.indexOf('--python');
    if (flag !== -1 && process.argv[flag + 1]) {
        return process.argv[flag + 1];
    }
    return process.env.PYTHON || (process.platform === 'win32' ? 'python' : 'python3');
}

function run(command, args, options = {}) {
    return spawnSync(command, args, { encoding: 'utf8', ...options });
}

function checkPython(python) {
    const result = run(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
    if (result.error) {
        fail(
            `cannot run the Python interpreter "${python}" (${result.error.code ?? result.error.message}). ` +
                'Install Python 3.10+ or name one with --python PATH or PYTHON=PATH.',
        );
    }
    const [major, minor] = result.stdout.trim().split('.').map(Number);
    if (result.status !== 0 || Number.isNaN(major)) {
        fail(`"${python}" did not report its version; it printed:\n${result.stdout}${result.stderr}`);
    }
    if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
        fail(
            `"${python}" is Python ${major}.${minor}; the server needs ${MIN_PYTHON.join('.')}+. ` +
                'Name another interpreter with --python PATH or PYTHON=PATH.',
        );
    }
    const pip = run(python, ['-m', 'pip', '--version']);
    if (pip.status !== 0) {
        fail(`"${python}" has no pip (${pip.stderr.trim()}). Install pip for it, e.g. "${python} -m ensurepip".`);
    }
    return `${major}.${minor}`;
}

/** A copy of the project without the extension and caches, so setuptools' build/ and *.egg-info stay out of the checkout. */
function copyProject() {
    const copy = path.join(mkdtempSync(path.join(os.tmpdir(), 'code-evolver-bundle-')), 'project');
    cpSync(projectRoot, copy, {
        recursive: true,
        filter: (source) => {
            const name = path.basename(source);
            const atTop = path.dirname(source) === projectRoot;
            return !(atTop && SKIP_AT_TOP.has(name)) && !SKIP_ANYWHERE.has(name) && !name.endsWith('.egg-info');
        },
    });
    return copy;
}

function compiledModules(dir) {
    const found = [];
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile() && /\.(so|pyd)$/.test(entry.name)) {
            found.push(path.relative(libs, path.join(entry.parentPath ?? entry.path, entry.name)));
        }
    }
    return found;
}

function sizeOf(dir) {
    let bytes = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
        if (entry.isFile()) {
            bytes += statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
        }
    }
    return bytes;
}

const python = pickPython();
if (!existsSync(path.join(projectRoot, 'pyproject.toml'))) {
    fail(`no pyproject.toml in ${projectRoot}: run this script from client-vscode/ inside a Code Evolver checkout.`);
}
const version = checkPython(python);
console.log(`bundle-python: installing ${projectRoot} into ${libs} with ${python} (Python ${version})`);

const project = copyProject();
rmSync(libs, { recursive: true, force: true });
const install = run(
    python,
    [
        '-m',
        'pip',
        'install',
        '--target',
        libs,
        '--no-compile',
        '--no-warn-script-location',
        '--disable-pip-version-check',
        '--upgrade',
        project,
    ],
    { stdio: 'inherit' },
);
rmSync(path.dirname(project), { recursive: true, force: true });
if (install.status !== 0) {
    failAndRemoveBundle(
        `pip could not install the project at ${projectRoot} (exit ${install.status ?? install.signal}); see pip's output above. ` +
            'If the server package is still being written, try again once "pip install ." works at the repository root.',
    );
}

// Console scripts point at this machine's interpreter; the extension runs `python -m code_evolver`.
rmSync(path.join(libs, 'bin'), { recursive: true, force: true });

if (!existsSync(path.join(libs, 'code_evolver', '__main__.py'))) {
    failAndRemoveBundle(
        'the project installed, but without code_evolver/__main__.py, so "python -m code_evolver lsp" cannot run. ' +
            'Is the server package (server/code_evolver) complete?',
    );
}
const importCheck = run(python, [
    '-I',
    '-B',
    '-c',
    'import sys; sys.path.insert(0, sys.argv[1]); import code_evolver',
    libs,
]);
if (importCheck.status !== 0) {
    failAndRemoveBundle(`the bundled server does not import:\n${importCheck.stderr}`);
}

const compiled = compiledModules(libs);
if (compiled.length > 0) {
    console.warn(
        `bundle-python: note: these modules are compiled for Python ${version} on ${process.platform}-${process.arch}; ` +
            `elsewhere their packages fall back to pure Python where they can:\n  ${compiled.join('\n  ')}`,
    );
}
console.log(`bundle-python: done, ${(sizeOf(libs) / 1024 / 1024).toFixed(1)} MiB in ${libs}`);
