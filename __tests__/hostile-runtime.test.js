'use strict';
// An ONNX Runtime library that is not what it should be, thread counts out of range, and the
// bundled library's telemetry files: each gets a clear answer, never a signal.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { useContract, parseJson } = require('./support/setup.js');
const { ROOT } = require('./support/cli.js');
const { SKIP_REAL, realModelsDir } = require('./support/voice.js');
const { runNodeScript } = require('./support/node-child.js');

const REAL_LIB = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
const LINUX_X64 = process.platform === 'linux' && process.arch === 'x64' && fs.existsSync(REAL_LIB);
const REAL = realModelsDir();

const ortCheck = (j) => j.checks.find((c) => c.name === 'ONNX Runtime');

describe('a damaged ONNX Runtime library', () => {
  const ctx = useContract();

  /** A copy of the real library cut to half its size, in the test's home. */
  function cutLibrary() {
    const bytes = fs.readFileSync(REAL_LIB);
    const cut = path.join(ctx.home.dir, 'ort', 'libonnxruntime.so.1');
    fs.mkdirSync(path.dirname(cut), { recursive: true });
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    return cut;
  }

  test('doctor says a truncated library is cut short (no SIGBUS)', { skip: !LINUX_X64 }, async () => {
    const env = { ORT_DYLIB_PATH: cutLibrary() };
    const r = await ctx.run(['doctor', '--json'], { env });
    assert.equal(r.code, 0, r.output);
    const check = ortCheck(parseJson(r.stdout));
    assert.equal(check.ok, false);
    assert.match(check.detail, /not a usable ONNX Runtime library: cut short/);
    assert.match(check.hint, /ORT_DYLIB_PATH/);
  });

  test('JS doctor() says the same in-process', { skip: !LINUX_X64 }, async () => {
    const script = `require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))}).doctor()
      .then((r) => process.stdout.write(JSON.stringify(r.checks.find((c) => c.name === 'ONNX Runtime'))));`;
    const env = { PATH: process.env.PATH, HOME: ctx.home.dir, HEYGEN_CONFIG_DIR: ctx.home.configDir, ORT_DYLIB_PATH: cutLibrary() };
    const r = await runNodeScript(script, env, { timeoutMs: 60_000 });
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, r.stderr);
    const check = JSON.parse(r.stdout);
    assert.equal(check.ok, false);
    assert.match(check.detail, /cut short/);
  });

  test('tts fails with ORT_LOAD_FAILED and a hint (no SIGBUS)', { skip: !LINUX_X64 || (!REAL && SKIP_REAL) }, async () => {
    const env = { ORT_DYLIB_PATH: cutLibrary(), HYPERFRAMES_MODELS_DIR: REAL };
    const out = path.join(ctx.home.dir, 'speech.wav');
    const r = await ctx.run(['tts', 'Hello there.', '--local-only', '--voice', 'jm_kumo', '--lang', 'en-us', '-o', out, '--json'], { env });
    assert.equal(typeof r.code, 'number', `ended by a ${r.code}`);
    assert.notEqual(r.code, 0);
    assert.match(r.output, /ORT_LOAD_FAILED/);
    assert.match(r.output, /cut short/);
    assert.ok(!fs.existsSync(out), 'no WAV');
  });

  test('ORT_DYLIB_PATH=/dev/zero is not a regular file', { skip: process.platform === 'win32' }, async () => {
    const r = await ctx.run(['doctor', '--json'], { env: { ORT_DYLIB_PATH: '/dev/zero' } });
    assert.equal(r.code, 0, r.output);
    const check = ortCheck(parseJson(r.stdout));
    assert.equal(check.ok, false);
    assert.match(check.detail, /ORT_DYLIB_PATH is set to `\/dev\/zero`, which is not a regular file/);
    assert.doesNotMatch(check.detail, /does not exist/);
  });

  test('a file that is no shared library is said to be one', async () => {
    const fake = path.join(ctx.home.dir, 'libonnxruntime.so.1');
    fs.writeFileSync(fake, 'not a library at all, just text standing where one should be');
    const r = await ctx.run(['doctor', '--json'], { env: { ORT_DYLIB_PATH: fake } });
    assert.match(ortCheck(parseJson(r.stdout)).detail, /no ELF, Mach-O or PE header/);
  });
});

describe('HYPERFRAMES_THREADS', () => {
  const ctx = useContract();
  const cores = os.availableParallelism();
  const cpu = async (value) => {
    const r = await ctx.run(['doctor', '--json'], { env: { HYPERFRAMES_THREADS: value } });
    assert.equal(r.code, 0, r.output);
    return parseJson(r.stdout).checks.find((c) => c.name === 'CPU');
  };

  test('more threads than cores are clamped to the cores, and doctor says so', async () => {
    for (const value of ['99999', '1000']) {
      const c = await cpu(value);
      assert.match(c.detail, new RegExp(`engines use ${cores} threads \\(HYPERFRAMES_THREADS=${value} is more than the ${cores} cores`));
      assert.equal(c.ok, false);
      assert.match(c.hint, new RegExp(`from 1 to ${cores}`));
    }
  });

  test('a value that is no thread count is ignored, and doctor says so', async () => {
    const c = await cpu('lots');
    assert.match(c.detail, new RegExp(`engines use ${cores} threads \\(HYPERFRAMES_THREADS=lots is not a whole number`));
  });

  test('a count within the cores is taken as given', async () => {
    const c = await cpu('1');
    assert.equal(c.ok, true);
    assert.equal(c.detail, `${cores} cores · engines use 1 threads`);
  });
});

describe("the bundled library's telemetry files", () => {
  const ctx = useContract();

  test('loading ONNX Runtime leaves nothing in TMPDIR', { skip: !LINUX_X64 }, async () => {
    const tmp = fs.mkdtempSync(path.join(ctx.home.dir, 'tmp-'));
    const r = await ctx.run(['doctor', '--json'], { env: { TMPDIR: tmp, ORT_DISABLE_TELEMETRY: undefined } });
    assert.equal(r.code, 0, r.output);
    assert.equal(ortCheck(parseJson(r.stdout)).ok, true, 'ONNX Runtime was loaded');
    assert.deepEqual(fs.readdirSync(tmp), [], 'no mat-debug-<pid>.log, no .ses');
  });

  test('a real synthesis leaves nothing in TMPDIR either', { skip: !LINUX_X64 || (!REAL && SKIP_REAL) }, async () => {
    const tmp = fs.mkdtempSync(path.join(ctx.home.dir, 'tmp-'));
    const out = path.join(ctx.home.dir, 'speech.wav');
    const env = { TMPDIR: tmp, HYPERFRAMES_MODELS_DIR: REAL, ORT_DISABLE_TELEMETRY: undefined };
    const r = await ctx.run(['tts', 'Hello there.', '--local-only', '--voice', 'jm_kumo', '--lang', 'en-us', '-o', out], { env });
    assert.equal(r.code, 0, r.output);
    assert.ok(fs.existsSync(out));
    assert.deepEqual(fs.readdirSync(tmp), []);
  });
});
