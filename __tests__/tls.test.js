'use strict';
// TLS roots as users behind a TLS-inspecting proxy meet them: a local HTTPS server whose certificate
// comes from a CA made here (the openssl CLI), reached by the real CLI (`auth status` against
// HEYGEN_API_URL, `models install` against HYPERFRAMES_MODEL_MIRROR). Without the CA the request
// fails with a message naming the certificate problem and the variables; with the CA given through
// SSL_CERT_FILE, SSL_CERT_DIR, NODE_EXTRA_CA_CERTS or the OS trust store, it succeeds.

const { describe, test, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http2 = require('node:http2');
const os = require('node:os');
const path = require('node:path');
const { BIN, makeHome, buildEnv, runCli, lines } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');

const KEY = 'hg_TLSKEY_0123456789';
const USER = { username: 'ada_l', email: 'ada@example.com' };
// whisper-tiny.en's catalog files (the published export is not pinned, so any bytes install).
const WHISPER_FILES = {
  'whisper-tiny.en/encoder_model.onnx': 'encoder bytes',
  'whisper-tiny.en/decoder_model_merged.onnx': 'decoder bytes',
  'whisper-tiny.en/config.json': '{}',
  'whisper-tiny.en/generation_config.json': '{}',
  'whisper-tiny.en/tokenizer.json': '{}',
};

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const NO_OPENSSL = hasOpenssl ? false : 'the openssl CLI is not installed (needed to make the test CA)';

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
}

/** A CA and a server certificate for 127.0.0.1 signed by it, in a fresh folder. */
function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=hyperframes test inspecting proxy CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  fs.writeFileSync(path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  // SSL_CERT_DIR and the fake OS store: a folder holding only the CA.
  fs.mkdirSync(path.join(dir, 'cadir'));
  fs.copyFileSync(path.join(dir, 'ca.pem'), path.join(dir, 'cadir', 'proxy-ca.pem'));
  fs.mkdirSync(path.join(dir, 'empty'));
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caDir: path.join(dir, 'cadir'),
    emptyDir: path.join(dir, 'empty'),
    key: fs.readFileSync(path.join(dir, 'server.key')),
    cert: fs.readFileSync(path.join(dir, 'server.pem')),
  };
}

/** An HTTPS server (HTTP/2 and HTTP/1.1 by ALPN): HeyGen's `/v3/users/me` and a model mirror under `/models/`. */
function startServer(certs) {
  const log = [];
  const server = http2.createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: true }, (req, res) => {
    log.push({ method: req.method, url: req.url, key: req.headers['x-api-key'], httpVersion: req.httpVersion });
    const send = (status, body, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url === '/v3/users/me') {
      if (req.headers['x-api-key'] !== KEY) return send(401, JSON.stringify({ code: 401, message: 'unauthorized' }));
      return send(200, JSON.stringify({ code: 100, message: 'ok', data: USER }));
    }
    const file = req.url.startsWith('/models/') && WHISPER_FILES[req.url.slice('/models/'.length)];
    if (file !== undefined && file !== false) return send(200, file, 'application/octet-stream');
    return send(404, '{}');
  });
  const handshakeErrors = [];
  server.on('tlsClientError', (e) => handshakeErrors.push(e.message));
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `https://127.0.0.1:${server.address().port}`,
        log,
        handshakeErrors,
        reset() {
          log.length = 0;
          handshakeErrors.length = 0;
        },
        stop: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

/** Our own warnings (Node prints its own for a bad NODE_EXTRA_CA_CERTS too; those are not ours). */
function ourWarnings(stderr) {
  return lines(stderr).filter((l) => l.startsWith('warning: '));
}

describe('TLS roots', { skip: NO_OPENSSL }, () => {
  let certs;
  let server;
  let home;
  before(async () => {
    certs = makeCerts();
    server = await startServer(certs);
  });
  after(async () => {
    if (server) await server.stop();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    server.reset();
    home = makeHome();
  });
  afterEach(() => home.cleanup());

  const statusEnv = (extra) => ({ HEYGEN_API_URL: server.url, HEYGEN_API_KEY: KEY, ...extra });
  const status = (extra) => runCli(['auth', 'status', '--json'], { home, env: statusEnv(extra) });

  function assertSignedIn(r, label) {
    assert.equal(r.code, 0, `${label}: exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const j = parseJson(r.stdout);
    assert.equal(j.api_error, null, label);
    assert.equal(j.user.email, USER.email, label);
    const seen = server.log.filter((e) => e.url === '/v3/users/me' && e.key === KEY);
    assert.equal(seen.length, 1, label);
    assert.equal(seen[0].httpVersion, '2.0', `${label}: the shared TLS settings offer h2 by ALPN`);
  }

  test('without the CA the request fails with a TLS error that names the fix', async () => {
    const r = await status({});
    assert.equal(r.code, 1, r.stdout);
    const j = parseJson(r.stdout);
    assert.equal(j.configured, true);
    assert.equal(j.user, null);
    assert.match(j.api_error, /TLS certificate is not trusted/);
    assert.match(j.api_error, /signed by an authority this machine does not trust/);
    assert.match(j.api_error, /SSL_CERT_FILE/);
    assert.match(j.api_error, /NODE_EXTRA_CA_CERTS/);
    assert.ok(!r.output.includes(KEY), 'the key is not printed');
    assert.equal(server.log.length, 0, 'no HTTP request got through');
    assert.ok(server.handshakeErrors.length >= 1, 'the client refused the handshake');
  });

  for (const [name, value] of [
    ['SSL_CERT_FILE', (c) => c.ca],
    ['NODE_EXTRA_CA_CERTS', (c) => c.ca],
    ['SSL_CERT_DIR', (c) => c.caDir],
  ]) {
    test(`the CA given through ${name} is trusted`, async () => {
      const r = await status({ [name]: value(certs) });
      assertSignedIn(r, name);
      assert.deepEqual(ourWarnings(r.stderr), []);
    });
  }

  test('a broken SSL_CERT_FILE is one warning naming it; NODE_EXTRA_CA_CERTS still applies', async () => {
    const garbage = path.join(home.dir, 'garbage.pem');
    fs.writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\n%%% not base64 %%%\n-----END CERTIFICATE-----\n');
    const r = await status({ SSL_CERT_FILE: garbage, NODE_EXTRA_CA_CERTS: certs.ca });
    assertSignedIn(r, 'broken SSL_CERT_FILE');
    const warnings = ourWarnings(r.stderr);
    assert.equal(warnings.length, 1, r.stderr);
    assert.ok(warnings[0].startsWith(`warning: SSL_CERT_FILE=${garbage}: 1 malformed PEM section(s)`), warnings[0]);
    assert.match(warnings[0], /HTTPS still trusts the built-in and system roots/);
  });

  test('a missing NODE_EXTRA_CA_CERTS file is a warning, and without another source the TLS error follows', async () => {
    const missing = path.join(home.dir, 'no-such-ca.pem');
    const r = await status({ NODE_EXTRA_CA_CERTS: missing });
    assert.equal(r.code, 1);
    const warnings = ourWarnings(r.stderr);
    assert.equal(warnings.length, 1, r.stderr);
    assert.ok(warnings[0].startsWith(`warning: NODE_EXTRA_CA_CERTS=${missing}: cannot read it`), warnings[0]);
    assert.match(parseJson(r.stdout).api_error, /TLS certificate is not trusted/);
  });

  test('roots load only when a client is built: signed out, a broken variable is never read', async () => {
    const missing = path.join(home.dir, 'no-such-ca.pem');
    const r = await runCli(['auth', 'status', '--json'], { home, env: { SSL_CERT_FILE: missing } });
    assert.equal(r.code, 1);
    assert.equal(parseJson(r.stdout).configured, false);
    assert.deepEqual(ourWarnings(r.stderr), [], r.stderr);
  });

  test('model downloads from an HTTPS mirror use the same roots', async () => {
    const env = { HYPERFRAMES_MODEL_MIRROR: `${server.url}/models` };
    const refused = await runCli(['models', 'install', 'whisper-tiny.en', '--json'], { home, env });
    assert.equal(refused.code, 1, refused.output);
    assert.match(refused.output, /TLS certificate is not trusted/);
    assert.match(refused.output, /SSL_CERT_FILE or NODE_EXTRA_CA_CERTS/);
    assert.equal(server.log.length, 0);

    const r = await runCli(['models', 'install', 'whisper-tiny.en', '--json'], {
      home,
      env: { ...env, NODE_EXTRA_CA_CERTS: certs.ca },
    });
    assert.equal(r.code, 0, r.output);
    for (const [file, body] of Object.entries(WHISPER_FILES)) {
      assert.equal(fs.readFileSync(path.join(home.modelsDir, file), 'utf8'), body, file);
    }
    assert.deepEqual(ourWarnings(r.stderr), []);
  });

  // The OS store: a private mount namespace puts a folder holding the CA (or nothing) over the
  // distribution's CA folders for the CLI alone; the machine's real store is never touched.
  const osDirs = ['/etc/ssl/certs', '/etc/pki/tls/certs'].filter((d) => fs.existsSync(d));
  const canUnshare =
    process.platform === 'linux' &&
    process.getuid() === 0 &&
    osDirs.length > 0 &&
    spawnSync('unshare', ['-m', 'true']).status === 0;
  const NO_UNSHARE = canUnshare ? false : 'needs root and util-linux unshare on Linux to stand in for the OS store';

  function statusWithOsStore(storeDir) {
    const mounts = osDirs.map((d) => `mount --bind "$0" ${d}`).join(' && ');
    const args = ['-m', 'sh', '-c', `${mounts} && exec "$@"`, storeDir, process.execPath, BIN, 'auth', 'status', '--json'];
    const env = buildEnv({ home, env: statusEnv({}) });
    return new Promise((resolve, reject) => {
      const child = spawn('unshare', args, { env, cwd: home.dir });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr, output: stdout + stderr }));
    });
  }

  test('the CA in the OS trust store is trusted (and its absence there is what fails)', { skip: NO_UNSHARE }, async () => {
    const without = await statusWithOsStore(certs.emptyDir);
    assert.equal(without.code, 1, without.output);
    assert.match(parseJson(without.stdout).api_error, /TLS certificate is not trusted/);

    const r = await statusWithOsStore(certs.caDir);
    assertSignedIn(r, 'OS store');
    assert.deepEqual(ourWarnings(r.stderr), []);
  });
});
