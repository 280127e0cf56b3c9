'use strict';
// Secrets never reach stdout or stderr: every failure path below is run with HYPERFRAMES_LOG=debug
// against servers whose error bodies echo the secret they were sent. The one exception is
// `auth token`, which exists to print the credential.

const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { assertNoSecrets, isoIn, parseJson } = require('./support/setup.js');
const { startServer } = require('./support/contract-server.js');
const { makeHome, runCli, fakeBrowserCommand } = require('./support/cli.js');

const KEY = 'hg_SECRETKEY_0123456789';
const KEY2 = 'hg_SECRETKEY_ABCDEFGHIJ';
const AT = 'at_SECRETACCESS_0123456789abcdef';
const RT = 'rt_SECRETREFRESH_0123456789abcdef';
// Secrets the client never holds but that an error body may carry: the scrubber's pattern rules.
const FOREIGN_JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtdXNlciJ9.c2lnbmF0dXJlX3NlY3JldA';
const FOREIGN_SK = 'sk_live_SECRETSTRIPE_0123456789';
const FOREIGN_HG = 'hg_SECRETOTHERKEY_0123456789';
const STATIC = [KEY, KEY2, AT, RT, FOREIGN_JWT, FOREIGN_SK, FOREIGN_HG];
const DEBUG = { HYPERFRAMES_LOG: 'debug' };

const cleanups = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function fresh() {
  const server = await startServer();
  const home = makeHome();
  cleanups.push(() => server.stop(), () => home.cleanup());
  const run = (args, opts = {}) => runCli(args, { server, home, ...opts, env: { ...DEBUG, ...(opts.env || {}) } });
  return { server, home, run };
}

/** Everything the server learned that counts as a secret (issued tokens, codes, verifiers, device codes). */
function dynamicSecrets(server) {
  const s = [...server.deviceCodes, ...server.codes.keys(), ...server.authorizations.map((a) => a.code)];
  for (const t of server.issued) s.push(t.access_token, t.refresh_token);
  for (const r of server.log) {
    const b = r.body && typeof r.body === 'object' ? r.body : {};
    for (const k of ['code', 'code_verifier', 'device_code', 'refresh_token', 'token']) if (b[k]) s.push(b[k]);
  }
  return s;
}

function check(r, server) {
  assertNoSecrets(r.stdout, [...STATIC, ...dynamicSecrets(server)], 'stdout');
  assertNoSecrets(r.stderr, [...STATIC, ...dynamicSecrets(server)], 'stderr');
}

/** A 401 body that repeats what it was sent in every shape the scrubber must handle. */
function echo401(req) {
  const key = req.headers['x-api-key'] || '';
  const auth = req.headers.authorization || '';
  return {
    status: 401,
    headers: { 'content-type': 'text/plain' },
    body: [
      `invalid credential ${key}${auth}`,
      `x-api-key: ${key}`,
      `Authorization: ${auth}`,
      `other tokens: ${FOREIGN_JWT} ${FOREIGN_SK} ${FOREIGN_HG}`,
      `{"access_token":"${AT}","refresh_token":"${RT}"} access_token=${AT}&refresh_token=${RT}`,
    ].join('\n'),
  };
}

describe('no secret in any output', { concurrency: 4 }, () => {
  test('api-key login rejected (401 body echoes the key in several shapes)', async () => {
    const { server, home, run } = await fresh();
    home.write({ api_key: KEY2 });
    server.queue('me', echo401);
    const r = await run(['auth', 'login', '--api-key', KEY]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /HeyGen rejected the API key/);
    check(r, server);
  });

  test('api-key login piped on stdin, rejected', async () => {
    const { server, run } = await fresh();
    server.queue('me', echo401);
    const r = await run(['auth', 'login', '--api-key'], { input: `${KEY}\n` });
    assert.equal(r.code, 1, r.output);
    check(r, server);
  });

  test('api-key login with a 5xx body that echoes the key', async () => {
    const { server, run } = await fresh();
    server.queue('me', (req) => ({ status: 503, body: `upstream failed for key ${req.headers['x-api-key']} / ${FOREIGN_JWT}` }));
    const r = await run(['auth', 'login', '--api-key', KEY]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /503/);
    check(r, server);
  });

  test('status with a rejected file key, human and JSON', async () => {
    const { server, home, run } = await fresh();
    home.write({ api_key: KEY });
    server.queue('me', echo401, echo401);
    const h = await run(['auth', 'status']);
    assert.equal(h.code, 1);
    check(h, server);
    const j = await run(['auth', 'status', '--json']);
    assert.equal(j.code, 1);
    // (Whether this stays valid JSON is covered in auth-status.test.js.)
    assert.match(j.stdout, /"api_error": "HeyGen rejected the credential/);
    check(j, server);
  });

  test('status with a rejected env key', async () => {
    const { server, run } = await fresh();
    server.queue('me', echo401);
    const r = await run(['auth', 'status', '--json'], { env: { HEYGEN_API_KEY: KEY } });
    assert.equal(r.code, 1);
    check(r, server);
  });

  test('status with an expired token whose refresh is refused (token body echoes the refresh token)', async () => {
    const { server, home, run } = await fresh();
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600) } });
    server.queue('me', echo401, echo401);
    const r = await run(['auth', 'status']);
    assert.equal(r.code, 1);
    assert.equal(server.requests('token').length, 1, 'a refresh was attempted');
    check(r, server);
  });

  test('status after a successful refresh: no token in the JSON', async () => {
    const { server, home, run } = await fresh();
    server.addRefreshToken(RT);
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600) } });
    const r = await run(['auth', 'status', '--json']);
    assert.equal(r.code, 0, r.output);
    check(r, server);
  });

  test('auth refresh rejected: 400 body echoes the refresh token (form and JSON shapes)', async () => {
    const { server, home, run } = await fresh();
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    server.queue('token', (req) => ({
      status: 400,
      json: { error: 'invalid_grant', error_description: `refresh_token=${req.body.refresh_token}`, refresh_token: req.body.refresh_token },
    }));
    const r = await run(['auth', 'refresh']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refresh token was rejected/);
    check(r, server);
    server.queue('token', (req) => ({ status: 401, body: `bad token ${req.body.refresh_token}` }));
    const j = await run(['auth', 'refresh', '--json']);
    assert.equal(j.code, 1);
    check(j, server);
  });

  test('auth refresh with a 500 that echoes the refresh token', async () => {
    const { server, home, run } = await fresh();
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    server.queue('token', (req) => ({ status: 500, body: `crash on ${req.raw}` }));
    const r = await run(['auth', 'refresh']);
    assert.equal(r.code, 1);
    check(r, server);
  });

  test('logout whose revoke endpoint fails and echoes the token', async () => {
    const { server, home, run } = await fresh();
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    const echo = (req) => ({ status: 400, body: `cannot revoke token=${req.body.token}` });
    server.queue('revoke', echo, echo);
    const r = await run(['auth', 'logout', '--yes']);
    assert.equal(r.code, 0, r.output);
    check(r, server);
  });

  test('browser login whose code exchange is refused (body echoes code and verifier)', async () => {
    const { server, run } = await fresh();
    server.queue('token', (req) => ({
      status: 400,
      json: { error: 'invalid_grant', error_description: `code=${req.body.code} code_verifier=${req.body.code_verifier}`, code: req.body.code },
    }));
    const r = await run(['auth', 'login'], { pty: true, env: { BROWSER: fakeBrowserCommand() } });
    assert.equal(r.code, 1, r.output);
    assert.ok(server.requests('token').length === 1);
    check(r, server);
  });

  test('browser login success: tokens, code and verifier are not shown', async () => {
    const { server, run } = await fresh();
    const r = await run(['auth', 'login'], { pty: true, env: { BROWSER: fakeBrowserCommand() } });
    assert.equal(r.code, 0, r.output);
    check(r, server);
  });

  test('browser login when the opener fails: the printed URL carries no secret', async () => {
    const { server, run } = await fresh();
    let opened = false;
    const r = await run(['auth', 'login'], {
      pty: true,
      env: { BROWSER: 'false' },
      onData: (text) => {
        const m = /Open this URL manually to continue:\n(\S+)\n/.exec(text);
        if (m && !opened && /Waiting for callback/.test(text)) {
          opened = true;
          spawn(process.execPath, [require('./support/cli.js').FAKE_BROWSER, m[1]], { stdio: 'ignore' });
        }
      },
    });
    // (Whether the printed URL works is covered in auth-login-browser.test.js.)
    assert.ok(opened, r.output);
    check(r, server);
  });

  test('device authorization with an unusable reply never echoes the device code', async () => {
    const { server, run } = await fresh();
    server.deviceOverrides = { interval: 'soon', verification_uri_complete: undefined };
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /interval/);
    check(r, server);
  });

  test('device poll failing with an unknown error that quotes the device code', async () => {
    const { server, run } = await fresh();
    server.queue('token', (req) => ({ status: 400, json: { error: req.body.device_code, error_description: req.raw } }));
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /Device sign-in failed: token endpoint returned HTTP 400/);
    check(r, server);
  });

  test('corrupt files: the message never quotes the file', async () => {
    const { server, home, run } = await fresh();
    const files = [
      `{"api_key": "${KEY}`,
      `{"api_key": "${KEY}\\u0001"}`,
      `{"oauth": {"access_token": "${AT}\\n", "refresh_token": "${RT}"}, "api_key": 7}`,
      `${KEY} ${RT}\n`,
      `{"api_key": "${KEY}", "oauth": "${AT}"}`,
    ];
    for (const content of files) {
      home.write(content);
      for (const args of [['auth', 'status'], ['auth', 'status', '--json'], ['auth', 'refresh'], ['auth', 'token'], ['doctor', '--json']]) {
        const r = await run(args);
        check(r, server);
      }
    }
  });

  test('control characters in HEYGEN_API_KEY: the error does not quote the value', async () => {
    const { server, run } = await fresh();
    for (const args of [['auth', 'status'], ['auth', 'status', '--json'], ['doctor', '--json'], ['auth', 'token', '--json']]) {
      const r = await run(args, { env: { HEYGEN_API_KEY: `${KEY}\n` } });
      check(r, server);
    }
  });

  test('doctor with env, file api_key and OAuth credentials', async () => {
    const { server, home, run } = await fresh();
    home.write({ api_key: KEY2, oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    for (const env of [{ HEYGEN_API_KEY: KEY }, {}]) {
      const j = await run(['doctor', '--json'], { env });
      check(j, server);
      const h = await run(['doctor'], { env });
      check(h, server);
    }
  });

  test('auth token prints the credential on purpose (and nothing else carries it)', async () => {
    const { server, home, run } = await fresh();
    home.write({ api_key: KEY });
    const r = await run(['auth', 'token']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout, `${KEY}\n`);
    assertNoSecrets(r.stderr, [KEY], 'stderr');
    const j = await run(['auth', 'token', '--json']);
    assert.equal(parseJson(j.stdout).token, KEY);
    const e = await run(['auth', 'token'], { env: { HEYGEN_API_KEY: KEY2 } });
    assert.equal(e.stdout, `${KEY2}\n`);
    check({ stdout: '', stderr: e.stderr }, server);
  });
});
