'use strict';
// `hyperframes doctor [--json] [--strict]`.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { useContract, parseJson } = require('./support/setup.js');
const { lines } = require('./support/cli.js');

describe('doctor', () => {
  const ctx = useContract();

  test('--json exits 0 with the envelope', async () => {
    const r = await ctx.run(['doctor', '--json']);
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.ok(r.stdout.startsWith('{\n  "'), '2-space indent');
    assert.equal(typeof j.ok, 'boolean');
    assert.equal(j.platform, process.platform);
    assert.equal(j.arch, process.arch);
    assert.ok(Array.isArray(j.checks) && j.checks.length > 0);
    for (const c of j.checks) {
      assert.equal(typeof c.name, 'string');
      assert.equal(typeof c.ok, 'boolean');
      assert.equal(typeof c.detail, 'string');
      if ('hint' in c) assert.equal(typeof c.hint, 'string');
      if (c.ok) assert.ok(!('hint' in c) || c.hint, `${c.name}: no empty hint`);
    }
    assert.equal(typeof j._meta, 'object');
    assert.match(j._meta.version, /^\d+\.\d+\.\d+/);
    assert.ok(!r.stdout.includes(ctx.home.dir), 'the home directory is redacted');
    assert.equal(ctx.server.log.length, 0, 'doctor makes no auth request');
  });

  test('--json shows paths under the home directory as $HOME', { skip: !(process.platform === 'linux' && process.arch === 'x64') }, async () => {
    const real = path.join(__dirname, '..', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
    const link = path.join(ctx.home.dir, 'ort', 'libonnxruntime.so.1');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(real, link);
    const r = await ctx.run(['doctor', '--json'], { env: { ORT_DYLIB_PATH: link } });
    assert.equal(r.code, 0, r.output);
    assert.ok(!r.stdout.includes(ctx.home.dir), r.stdout);
    const ort = parseJson(r.stdout).checks.find((c) => c.name === 'ONNX Runtime');
    assert.equal(ort.ok, true, ort.detail);
    assert.match(ort.detail, /\$HOME\/ort\/libonnxruntime\.so\.1/);
  });

  test('signed out with nothing installed, the credentials row claims no local engine (#21 item 8)', async () => {
    const j = parseJson((await ctx.run(['doctor', '--json'])).stdout);
    const row = j.checks.find((c) => c.name === 'Credentials');
    assert.match(row.detail, /^not signed in: voice: Kokoro is not installed; music: MusicGen is not installed$/, row.detail);
  });

  test('--json reports the Node.js version it runs under', async () => {
    const r = await ctx.run(['doctor', '--json']);
    const node = parseJson(r.stdout).checks.find((c) => c.name === 'Node.js');
    assert.ok(node, 'a Node.js row');
    assert.ok(node.detail.includes(process.version), node.detail);
  });

  test('--strict exits 0 when every required check passes', async () => {
    const j = parseJson((await ctx.run(['doctor', '--json'])).stdout);
    const failedRequired = j.checks.filter((c) => !c.ok && c.required !== false);
    assert.deepEqual(failedRequired, [], 'this machine passes the required checks');
    const r = await ctx.run(['doctor', '--strict']);
    assert.equal(r.code, 0, r.output);
  });

  test('--strict exits 1 when a required check fails (ORT_DYLIB_PATH=/nonexistent); plain doctor still exits 0', async () => {
    const env = { ORT_DYLIB_PATH: '/nonexistent/libonnxruntime.so' };
    const strict = await ctx.run(['doctor', '--strict'], { env });
    assert.equal(strict.code, 1, strict.output);
    assert.match(strict.stdout, /^✗ /m);
    assert.match(strict.stdout, /ORT_DYLIB_PATH/);
    const strictJson = await ctx.run(['doctor', '--json', '--strict'], { env });
    assert.equal(strictJson.code, 1);
    const j = parseJson(strictJson.stdout);
    assert.equal(j.ok, false);
    const failed = j.checks.find((c) => !c.ok && /ORT_DYLIB_PATH/.test(c.detail));
    assert.ok(failed, JSON.stringify(j.checks, null, 2));
    assert.equal(typeof failed.hint, 'string');
    const plain = await ctx.run(['doctor'], { env });
    assert.equal(plain.code, 0, 'without --strict the exit code is always 0');
    const plainJson = await ctx.run(['doctor', '--json'], { env });
    assert.equal(plainJson.code, 0);
  });

  test('a config dir that is a file fails a required check', async () => {
    const file = path.join(ctx.home.dir, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const r = await ctx.run(['doctor', '--json', '--strict'], { env: { HEYGEN_CONFIG_DIR: path.join(file, 'sub') } });
    assert.equal(r.code, 1, r.output);
    assert.equal(parseJson(r.stdout).ok, false);
  });

  test('human output: ✓/✗ rows, hints under failures, and the footer', async () => {
    const ok = await ctx.run(['doctor']);
    assert.equal(ok.code, 0, ok.output);
    const rows = lines(ok.stdout).filter((l) => /^[✓✗⚠] /.test(l));
    assert.ok(rows.length >= 5, ok.stdout);
    assert.match(ok.stdout, /^✓ Node\.js {9}/m, 'names are padded to 16');
    assert.match(ok.stdout, /^◇ {2}(All checks passed|Required checks passed.*)$/m);

    const bad = await ctx.run(['doctor'], { env: { ORT_DYLIB_PATH: '/nonexistent/libonnxruntime.so' } });
    const out = lines(bad.stdout);
    const i = out.findIndex((l) => l.startsWith('✗ '));
    assert.ok(i >= 0, bad.stdout);
    assert.match(out[i + 1], /^ {19}\S/, 'the hint is indented 19 spaces');
    assert.match(bad.stdout, /^◇ {2}Some checks failed — see hints above$/m);
  });

  test('credentials row: stored file with loose permissions is flagged, secrets are not shown', async () => {
    const key = 'hg_DOCTORKEY_0123456789';
    ctx.home.write({ api_key: key }, { fileMode: 0o644, dirMode: 0o755 });
    const r = await ctx.run(['doctor', '--json']);
    assert.equal(r.code, 0);
    const j = parseJson(r.stdout);
    const cred = j.checks.find((c) => c.name === 'Credentials');
    assert.ok(cred, JSON.stringify(j.checks.map((c) => c.name)));
    assert.equal(cred.ok, false);
    assert.match(cred.detail, /permissions/);
    assert.ok(!r.stdout.includes(key));
  });
});
