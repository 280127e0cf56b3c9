'use strict';
// The package as users get it: `npm run pack:local` writes the root tarball and this machine's
// platform tarball, both are installed into a clean project (install scripts allowed, no Rust
// toolchain on PATH, no network: --offline), and the CLI, ESM, CommonJS and TypeScript front doors
// are used from there. Then the installed tree is damaged the ways users' trees get damaged (the
// ONNX Runtime library missing or broken, the platform package missing or of another version).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const { hostPlatform, manifest } = require('../scripts/platforms.js');
const { releaseManifest } = require('../scripts/sync-versions.js');

const platform = (() => {
  try {
    return hostPlatform();
  } catch {
    return null;
  }
})();
const builtAddon = platform && path.join(ROOT, platform.addon);
const skipAll = !platform
  ? `no platform package for ${process.platform}-${process.arch}`
  : !fs.existsSync(builtAddon)
    ? `${platform.addon} is not built (npm run build)`
    : false;

const modelsDir = process.env.HYPERFRAMES_TEST_MODELS_DIR;
const haveKokoro = Boolean(modelsDir && fs.existsSync(path.join(modelsDir, 'kokoro')));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** This PATH without the folders holding cargo or rustc: nothing may need a Rust toolchain. */
function toolchainFreePath() {
  const exe = process.platform === 'win32' ? '.exe' : '';
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter((d) => d && !['cargo', 'rustc', 'rustup'].some((tool) => fs.existsSync(path.join(d, tool + exe))))
    .join(path.delimiter);
}

/** Bytes under `dir` (what `du` would say, without needing `du`). */
function treeSize(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += treeSize(full);
    else if (entry.isFile()) total += fs.statSync(full).size;
  }
  return total;
}

describe('packaging: the published tarballs installed into a clean project', { skip: skipAll }, () => {
  let tmp;
  let project;
  let env;
  let packed;
  let installedPlatformDir;
  let ortFile;

  // npm and npx are .cmd scripts on Windows, which only a shell runs.
  const run = (cmd, args, extra = {}) =>
    spawnSync(cmd === 'node' ? process.execPath : cmd, args, {
      cwd: project,
      env: { ...env, ...(extra.env || {}) },
      encoding: 'utf8',
      timeout: 180_000,
      shell: process.platform === 'win32' && cmd !== 'node',
    });
  const cli = (args, extraEnv) => run('npx', ['--no-install', 'hyperframes', ...args], { env: extraEnv });
  const json = (r) => {
    try {
      return JSON.parse(r.stdout);
    } catch {
      assert.fail(`not JSON (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
  };

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hyperframes-packaging-'));
    project = path.join(tmp, 'project');
    const home = path.join(tmp, 'home');
    fs.mkdirSync(project);
    fs.mkdirSync(home);
    // A clean environment: none of npm's own `npm_*` variables from `npm test`, no ONNX Runtime
    // override, a private home (no credentials), and no way to reach the network.
    env = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (/^(npm_|ORT_|HEYGEN_|HYPERFRAMES_|LD_LIBRARY_PATH$|NODE_OPTIONS$)/i.test(k)) continue;
      env[k] = v;
    }
    Object.assign(env, {
      PATH: toolchainFreePath(),
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_CACHE_HOME: path.join(home, '.cache'),
      HEYGEN_CONFIG_DIR: path.join(home, 'config'),
      HYPERFRAMES_OFFLINE: '1',
      // With the registry Kokoro model the offline voice chain has a provider, so doctor is all ok.
      HYPERFRAMES_MODELS_DIR: haveKokoro ? modelsDir : path.join(home, 'models'),
      npm_config_cache: path.join(os.homedir(), '.npm'),
    });

    const { packLocal } = require('../scripts/pack-local.js');
    packed = packLocal(path.join(tmp, 'tarballs'));
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
    const started = process.hrtime.bigint();
    const install = run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', packed.root.file, packed.platform.file]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);
    installedPlatformDir = path.join(project, 'node_modules', platform.name);
    ortFile = platform.ort && path.join(installedPlatformDir, platform.ort.file);
    console.log(
      `# packaging: root tarball ${(packed.root.size / 1e3).toFixed(0)} kB; ${platform.name} tarball ${(packed.platform.size / 1e6).toFixed(1)} MB, ` +
        `unpacked ${(packed.platform.unpackedSize / 1e6).toFixed(1)} MB; node_modules ${(treeSize(path.join(project, 'node_modules')) / 1e6).toFixed(1)} MB; ` +
        `npm install from the tarballs ${seconds.toFixed(1)} s`,
    );
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('installs exactly the two packages, none with an install script', () => {
    const names = fs.readdirSync(path.join(project, 'node_modules')).filter((n) => !n.startsWith('.'));
    assert.deepEqual(names.sort(), ['hyperframes', platform.name].sort());
    for (const name of names) {
      const pkg = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', name, 'package.json'), 'utf8'));
      for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
        assert.equal(pkg.scripts?.[hook], undefined, `${name} has a ${hook} script`);
      }
      assert.equal(pkg.version, manifest.version);
    }
    const published = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', 'hyperframes', 'package.json'), 'utf8'));
    assert.deepEqual(published.optionalDependencies, releaseManifest().optionalDependencies);
    assert.ok(published.optionalDependencies[platform.name], `${platform.name} is an optional dependency`);
    assert.deepEqual(
      fs.readdirSync(installedPlatformDir).sort(),
      ['LICENSE', 'README.md', 'package.json', platform.addon, ...(platform.ort ? [platform.ort.file] : [])].sort(),
    );
  });

  test('the Linux addon and the library it loads need nothing newer than GLIBC_2.28', { skip: process.platform !== 'linux' && 'not Linux' }, () => {
    // The addon is linked against glibc 2.17 (scripts/build.js); the floor is ONNX Runtime's 2.28.
    for (const file of [path.join(installedPlatformDir, platform.addon), ortFile]) {
      const symbols = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
      const versions = [...new Set(symbols.match(/GLIBC_[0-9.]+/g))].map((v) => v.slice(6).split('.').map(Number));
      const newest = versions.sort((a, b) => a[0] - b[0] || (a[1] || 0) - (b[1] || 0)).pop();
      console.log(`# ${path.basename(file)}: newest glibc symbol version ${newest.join('.')}`);
      assert.ok(newest[0] === 2 && newest[1] <= 28, `${path.basename(file)} needs GLIBC_${newest.join('.')}`);
    }
  });

  test('npx hyperframes --version', () => {
    const r = cli(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `hyperframes ${manifest.version}`);
  });

  test('doctor --json: ONNX Runtime is the one in the platform package', { skip: !platform?.ort && 'this platform package ships no ONNX Runtime' }, () => {
    const report = json(cli(['doctor', '--json']));
    const ort = report.checks.find((c) => c.name === 'ONNX Runtime');
    assert.equal(ort.ok, true, ort.detail);
    assert.ok(ort.detail.includes('bundled next to the addon'), ort.detail);
    assert.ok(ort.detail.endsWith(path.join('node_modules', platform.name, platform.ort.file)), ort.detail);
    if (haveKokoro) {
      const failed = report.checks.filter((c) => !c.ok && c.required);
      assert.deepEqual(failed, [], 'every required check passes');
      assert.equal(report.ok, true);
    }
  });

  test('ESM: named imports, the default export and the namespace are the same API', () => {
    fs.writeFileSync(
      path.join(project, 'esm.mjs'),
      `import { tts, doctor, plan, authStatus, ttsStream, buildMedia } from 'hyperframes';
import hf from 'hyperframes';
import * as ns from 'hyperframes';
const status = await authStatus();
const p = await plan({ localOnly: true });
const d = await doctor();
let speech = null;
if (process.env.SPEAK === '1') {
  const r = await tts('Hello from the installed package.', { voice: 'jm_kumo', lang: 'en-us', output: 'hello.wav', localOnly: true });
  speech = { sampleRate: r.sampleRate, seconds: r.durationSeconds, words: r.words.length, bytes: r.audio.length, provider: r.provider };
}
console.log(JSON.stringify({
  names: Object.keys(ns).filter((k) => k !== 'default').sort(),
  defaultNames: Object.keys(hf).sort(),
  same: hf.tts === tts && ns.doctor === doctor && typeof ttsStream === 'function' && typeof buildMedia === 'function',
  configured: status.configured,
  planned: typeof p === 'object' && p !== null,
  doctorOk: d.ok,
  speech,
}));
`,
    );
    const r = run('node', ['esm.mjs'], { env: haveKokoro ? { SPEAK: '1' } : {} });
    assert.equal(r.status, 0, r.stderr);
    const out = json(r);
    assert.equal(out.same, true);
    assert.deepEqual(out.names, out.defaultNames);
    for (const name of ['tts', 'ttsStream', 'doctor', 'plan', 'authStatus', 'buildMedia', 'music', 'sfx', 'describe', 'modelsList']) {
      assert.ok(out.names.includes(name), `${name} is a named export`);
    }
    assert.equal(out.configured, false);
    assert.equal(out.planned, true);
    if (platform.ort && haveKokoro) assert.equal(out.doctorOk, true);
    if (haveKokoro) {
      assert.equal(out.speech.provider, 'kokoro');
      assert.equal(out.speech.sampleRate, 24000);
      assert.ok(out.speech.seconds > 0.5 && out.speech.words >= 4, JSON.stringify(out.speech));
      assert.ok(fs.statSync(path.join(project, 'hello.wav')).size > 24000, 'hello.wav was written');
    }
  });

  test('ESM speech with the registry Kokoro model', { skip: !haveKokoro && 'HYPERFRAMES_TEST_MODELS_DIR has no kokoro model (npm run models:registry)' }, () => {
    // Covered by the ESM test above with SPEAK=1; this row makes a missing model a visible skip.
    assert.ok(fs.existsSync(path.join(project, 'hello.wav')));
  });

  test('CommonJS: require() gives the same names as the ESM namespace', () => {
    fs.writeFileSync(
      path.join(project, 'cjs.cjs'),
      `const hf = require('hyperframes');
const { version } = require('hyperframes/package.json');
hf.plan({ localOnly: true }).then((p) => console.log(JSON.stringify({ names: Object.keys(hf).sort(), version, plan: Array.isArray(p) || typeof p === 'object' })));
`,
    );
    const r = run('node', ['cjs.cjs']);
    assert.equal(r.status, 0, r.stderr);
    const out = json(r);
    const esm = json(run('node', ['--input-type=module', '-e', "import * as ns from 'hyperframes'; console.log(JSON.stringify(Object.keys(ns).filter((k) => k !== 'default').sort()))"]));
    assert.deepEqual(out.names, esm);
    assert.equal(out.version, manifest.version);
    assert.equal(out.plan, true);
  });

  test("tsc --strict: the README's JS examples type-check under node16 (ESM and CJS) and bundler", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = /## JS API\s+```js\n([\s\S]*?)\n```/.exec(readme);
    assert.ok(block, 'README has a JS API example block');
    const body = block[1]
      .split('\n')
      .filter((line) => !/require\('hyperframes'\)/.test(line))
      .join('\n');
    const example = (header) =>
      `${header}\nexport async function readmeExamples(key: string, longText: string): Promise<void> {\n${body}\n}\n`;
    const named = "import { tts, doctor, plan, authStatus } from 'hyperframes';\nexport const picked = [tts, doctor, plan, authStatus];";
    fs.writeFileSync(path.join(project, 'example.mts'), example(`import * as hf from 'hyperframes';\nimport api from 'hyperframes';\n${named}\nexport const same: typeof hf.tts = api.tts;`));
    fs.writeFileSync(path.join(project, 'example.cts'), example(`import * as hf from 'hyperframes';\n${named}`));
    fs.writeFileSync(path.join(project, 'example.ts'), example(`import * as hf from 'hyperframes';\nimport api from 'hyperframes';\n${named}\nexport const same: typeof hf.tts = api.tts;`));
    const base = { strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], target: 'es2022' };
    const configs = {
      'tsconfig.node16.json': { compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['example.mts', 'example.cts'] },
      'tsconfig.bundler.json': { compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' }, files: ['example.ts'] },
    };
    for (const [file, config] of Object.entries(configs)) {
      fs.writeFileSync(path.join(project, file), JSON.stringify(config, null, 2));
      const r = run('node', [TSC, '-p', file]);
      assert.equal(r.status, 0, `${file}:\n${r.stdout}${r.stderr}`);
    }
  });

  test('the types declare exactly the functions the runtime exports, for import and require', () => {
    const ts = require(path.join(ROOT, 'node_modules', 'typescript'));
    const runtime = json(run('node', ['--input-type=module', '-e', "import * as ns from 'hyperframes'; console.log(JSON.stringify(Object.keys(ns).filter((k) => k !== 'default').sort()))"]));
    for (const file of ['types-probe.mts', 'types-probe.cts']) {
      fs.writeFileSync(path.join(project, file), "import * as hf from 'hyperframes';\nexport { hf };\n");
      const program = ts.createProgram([path.join(project, file)], {
        module: ts.ModuleKind.Node16,
        moduleResolution: ts.ModuleResolutionKind.Node16,
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      });
      const checker = program.getTypeChecker();
      const source = program.getSourceFile(path.join(project, file));
      const spec = source.statements.find((s) => ts.isImportDeclaration(s)).moduleSpecifier;
      const exported = checker
        .getExportsOfModule(checker.getSymbolAtLocation(spec))
        .filter((s) => {
          const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
          return target.flags & ts.SymbolFlags.Value && s.name !== 'default';
        })
        .map((s) => s.name)
        .sort();
      assert.deepEqual(exported, runtime, `${file}: declared value exports vs runtime exports`);
    }
  });

  describe('a damaged install', () => {
    const move = (from, to) => fs.renameSync(from, to);

    test('ONNX Runtime missing: ORT_NOT_FOUND with the path and the fix; auth, plan and doctor still work', { skip: !platform?.ort && 'this platform package ships no ONNX Runtime' }, () => {
      const aside = path.join(tmp, 'ort-aside');
      move(ortFile, aside);
      try {
        const report = json(cli(['doctor', '--json']));
        const ort = report.checks.find((c) => c.name === 'ONNX Runtime');
        assert.equal(ort.ok, false);
        assert.ok(ort.detail.includes(`no ${platform.ort.file} next to the addon in`), ort.detail);
        assert.ok(ort.detail.includes(path.join('node_modules', platform.name)), ort.detail);
        assert.ok(ort.hint.includes(`npm install ${platform.name}@${manifest.version}`), ort.hint);
        assert.ok(ort.hint.includes('ORT_DYLIB_PATH'), ort.hint);

        const status = cli(['auth', 'status', '--json']);
        assert.equal(json(status).configured, false, status.stderr);
        assert.equal(cli(['plan', '--json']).status, 0);

        if (haveKokoro) {
          const r = cli(['tts', 'Hello.', '--voice', 'jm_kumo', '--lang', 'en-us', '-o', 'x.wav', '--local-only', '--json']);
          assert.equal(r.status, 1);
          const err = json(r);
          assert.equal(err.code, 'ORT_NOT_FOUND', r.stdout);
          assert.ok(err.error.includes(path.join('node_modules', platform.name)), err.error);
        }
      } finally {
        move(aside, ortFile);
      }
    });

    test('ONNX Runtime broken: ORT_LOAD_FAILED naming the file', { skip: !platform?.ort && 'this platform package ships no ONNX Runtime' }, () => {
      const aside = path.join(tmp, 'ort-aside');
      move(ortFile, aside);
      fs.writeFileSync(ortFile, 'not a shared library');
      try {
        const report = json(cli(['doctor', '--json']));
        const ort = report.checks.find((c) => c.name === 'ONNX Runtime');
        assert.equal(ort.ok, false);
        assert.ok(ort.detail.includes(ortFile), ort.detail);
        assert.ok(ort.hint.includes(platform.name), ort.hint);
        if (haveKokoro) {
          const r = cli(['tts', 'Hello.', '--voice', 'jm_kumo', '--lang', 'en-us', '-o', 'x.wav', '--local-only', '--json']);
          assert.equal(json(r).code, 'ORT_LOAD_FAILED', r.stdout);
        }
        assert.equal(json(cli(['auth', 'status', '--json'])).configured, false);
      } finally {
        fs.rmSync(ortFile);
        move(aside, ortFile);
      }
    });

    test('platform package missing: the error names the package to install', () => {
      const aside = path.join(tmp, 'platform-aside');
      move(installedPlatformDir, aside);
      try {
        const r = cli(['--version']);
        assert.equal(r.status, 1);
        assert.ok(r.stderr.includes(`npm install ${platform.name}@${manifest.version}`), r.stderr);
        assert.ok(r.stderr.includes(`${process.platform} on ${process.arch}`), r.stderr);
        const j = json(cli(['auth', 'status', '--json']));
        assert.equal(j.code, 'PLATFORM_PACKAGE_MISSING');
        const req = run('node', ['-e', "try { require('hyperframes') } catch (e) { console.log(JSON.stringify({ code: e.code, hint: e.hint })) }"]);
        assert.equal(json(req).code, 'PLATFORM_PACKAGE_MISSING', req.stderr);
      } finally {
        move(aside, installedPlatformDir);
      }
    });

    test('platform package of another version: the error says which version is needed', () => {
      const file = path.join(installedPlatformDir, 'package.json');
      const original = fs.readFileSync(file, 'utf8');
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(original), version: '0.0.1' }));
      try {
        const j = json(cli(['--version', '--json']));
        assert.equal(j.code, 'PLATFORM_PACKAGE_MISMATCH');
        assert.ok(j.error.includes(`${platform.name} 0.0.1`), j.error);
        assert.ok(j.hint.includes(`npm install ${platform.name}@${manifest.version}`), j.hint);
      } finally {
        fs.writeFileSync(file, original);
      }
      assert.equal(cli(['--version']).status, 0, 'restored');
    });
  });
});

describe('release metadata', () => {
  test('platform packages are at the root version; the published manifest depends on each', () => {
    const { sync } = require('../scripts/sync-versions.js');
    assert.deepEqual(sync({ write: false }), []);
    const names = fs.readdirSync(path.join(ROOT, 'npm')).map((d) => `hyperframes-${d}`).sort();
    assert.deepEqual(Object.keys(releaseManifest().optionalDependencies), names);
    for (const v of Object.values(releaseManifest().optionalDependencies)) assert.equal(v, manifest.version);
  });

  test('the exports map serves ESM, CommonJS and their types', () => {
    const dot = manifest.exports['.'];
    assert.equal(dot.import.default, './lib/index.mjs');
    assert.equal(dot.import.types, './lib/index.d.mts');
    assert.equal(dot.require.default, './lib/index.js');
    assert.equal(dot.require.types, './lib/index.d.ts');
    assert.equal(manifest.exports['./package.json'], './package.json');
    assert.equal(manifest.dependencies, undefined, 'no runtime dependencies (onnxruntime-node is dev-only)');
    assert.equal(manifest.scripts.postinstall, undefined);
    for (const field of ['repository', 'homepage', 'bugs', 'keywords', 'license']) assert.ok(manifest[field], field);
    assert.ok(fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8').includes('Apache License'));
  });

  test('every function of the addon is exported by lib/index.js, lib/index.mjs and lib/index.d.ts by name', () => {
    const generated = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8');
    const typeNames = [...generated.matchAll(/^export (?:interface|type|declare const enum) (\w+)/gm)].map((m) => m[1]);
    const nativeNames = [...generated.matchAll(/^export declare (?:function|class) (\w+)/gm)].map((m) => m[1]);
    const cjs = fs.readFileSync(path.join(ROOT, 'lib', 'index.js'), 'utf8');
    const mjs = fs.readFileSync(path.join(ROOT, 'lib', 'index.mjs'), 'utf8');
    const dts = fs.readFileSync(path.join(ROOT, 'lib', 'index.d.ts'), 'utf8');
    for (const name of nativeNames) {
      assert.match(cjs, new RegExp(`^exports\\.${name} = `, 'm'), `lib/index.js: exports.${name} = …`);
      assert.match(mjs, new RegExp(`^  ${name},$`, 'm'), `lib/index.mjs exports ${name}`);
      assert.match(dts, new RegExp(`^  ${name},$|^export declare function ${name}\\b`, 'm'), `lib/index.d.ts exports ${name}`);
    }
    for (const name of typeNames) assert.match(dts, new RegExp(`^  ${name},$`, 'm'), `lib/index.d.ts exports the type ${name}`);
  });
});
