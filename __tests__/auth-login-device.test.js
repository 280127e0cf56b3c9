'use strict';
// Device sign-in (`hyperframes auth login --device`, RFC 8628) under a real pseudo-terminal.
//
// The client waits one polling interval (clamped to at least 5 s) before its first poll, so every
// test that reaches the token endpoint costs about 5 s. Those tests get the outcome on the FIRST
// poll and run concurrently (each with its own contract server and HOME), so the file takes about
// one interval in total. Refusal tests never poll and are instant.

const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const { assertNoSecrets, isoIn } = require('./support/setup.js');
const { startServer, DEVICE_GRANT } = require('./support/contract-server.js');
const { makeHome, runCli } = require('./support/cli.js');

const cleanups = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function fresh() {
  const server = await startServer();
  const home = makeHome();
  cleanups.push(() => server.stop(), () => home.cleanup());
  return { server, home, run: (args, opts = {}) => runCli(args, { server, home, ...opts }) };
}

function secretsOf(server) {
  const s = [...server.deviceCodes];
  for (const t of server.issued) s.push(t.access_token, t.refresh_token);
  return s;
}

describe('auth login --device: polling flows (concurrent, ~one interval in total)', { concurrency: true }, () => {
  test('absurd numbers from the servers (expires_in 1e16 for the token and for the code) are clamped, not a crash', async () => {
    const { server, home, run } = await fresh();
    server.tokenExpiresIn = 1e16;
    server.deviceOverrides = { expires_in: 1e16 };
    server.queue('token', { fallthrough: true });
    const r = await run(['auth', 'login', '--device'], { pty: true, env: { CI: 'false' }, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.output);
    assert.doesNotMatch(r.output, /panicked|out of bounds/);
    const file = home.read();
    assert.equal(file.oauth.refresh_token, server.issued[0].refresh_token);
    const expires = new Date(file.oauth.expires_at).getTime();
    assert.ok(expires < Date.now() + 400 * 86_400_000, file.oauth.expires_at);
  });

  test('success: shows the complete URI without "Enter code", verifies, then persists', async () => {
    const { server, home, run } = await fresh();
    home.write({
      foreign_root: { keep: 1 },
      api_key: 'hg_KEEPKEY_0123456789',
      oauth: { access_token: 'at_SECRETACCESS_old_0123', refresh_token: 'rt_SECRETREFRESH_old_0123', vendor: 1, expires_at: isoIn(-60) },
      user: { email: 'old@example.com', team_id: 'team-1' },
    });
    const r = await run(['auth', 'login', '--device'], { pty: true, env: { CI: 'false' } });
    assert.equal(r.code, 0, r.output);
    const complete = `${server.url}/device?user_code=WDJB-MJHT`;
    assert.match(r.stdout, new RegExp(`^Open ${complete.replace(/[.?]/g, '\\$&')} in a browser\\.$`, 'm'));
    assert.doesNotMatch(r.stdout, /Enter code/);
    assert.match(r.stdout, /^Waiting for approval…$/m);
    assert.match(r.stdout, /^✓ Signed in as ada@example\.com\.$/m);

    const [dev] = server.requests('device');
    assert.deepEqual(dev.body, { client_id: 'test-client', scope: 'openid profile email' });
    const polls = server.requests('token');
    assert.equal(polls.length, 1, 'approved on the first poll');
    assert.deepEqual(polls[0].body, { grant_type: DEVICE_GRANT, device_code: server.lastDevice.device_code, client_id: 'test-client' });

    const issued = server.issued[0];
    const [me] = server.requests('me');
    assert.equal(me.headers.authorization, `Bearer ${issued.access_token}`, 'verified with the new token');

    const file = home.read();
    assert.equal(file.oauth.access_token, issued.access_token);
    assert.equal(file.oauth.refresh_token, issued.refresh_token);
    assert.match(file.oauth.expires_at, /\.\d{3}Z$/);
    assert.equal(file.oauth.vendor, undefined, 'a new sign-in replaces the oauth block');
    assert.equal(file.api_key, 'hg_KEEPKEY_0123456789');
    assert.deepEqual(file.foreign_root, { keep: 1 });
    assert.equal(file.user.email, 'ada@example.com');
    assert.equal(file.user.team_id, 'team-1', 'unknown user keys are kept');
    assert.equal(server.requests('revoke').length, 0);
    assertNoSecrets(r.output, secretsOf(server));
  });

  test('rejected token: revokes the access then the refresh token and writes nothing; "Enter code" without a complete URI', async () => {
    const { server, home, run } = await fresh();
    const before = home.write({ api_key: 'hg_KEEPKEY_0123456789' });
    server.deviceOverrides = { verification_uri_complete: undefined };
    // users/me refuses the new token, and the refresh the client tries on that 401 is refused too.
    server.queue('token', { fallthrough: true }, (req) => ({ status: 400, json: { error: 'invalid_grant', error_description: `refresh_token=${req.body.refresh_token}` } }));
    server.queue('me', (req) => ({
      status: 401,
      json: { message: `token ${req.headers.authorization} revoked` },
    }));
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, new RegExp(`^Open ${server.url.replace(/\./g, '\\.')}/device in a browser\\.$`, 'm'));
    assert.match(r.stdout, /^Enter code WDJB-MJHT\.$/m);
    assert.match(r.stdout, /no credential was saved/);
    assert.match(r.stdout, /auth login --device/);
    assert.equal(home.readRaw(), before, 'nothing written');

    const issued = server.issued[0];
    const revokes = server.requests('revoke');
    assert.equal(revokes.length, 2);
    assert.equal(revokes[0].body.token, issued.access_token);
    assert.equal(revokes[0].body.token_type_hint, 'access_token');
    assert.equal(revokes[0].body.client_id, 'test-client');
    assert.equal(revokes[1].body.token, issued.refresh_token);
    assert.equal(revokes[1].body.token_type_hint, 'refresh_token');
    assertNoSecrets(r.output, secretsOf(server));
  });

  test(
    'a 401 at verification that a refresh papers over must not leave rotated-out tokens on disk',
    async () => {
      const { server, home, run } = await fresh();
      server.queue('me', { status: 401, json: { message: 'not yet' } });
      const r = await run(['auth', 'login', '--device'], { pty: true });
      if (r.code === 0) {
        const file = home.read();
        assert.ok(server.refreshTokens.has(file.oauth.refresh_token), 'the stored refresh token is still valid at the server');
        const lastMe = server.requests('me').at(-1);
        assert.equal(`Bearer ${file.oauth.access_token}`, lastMe.headers.authorization, 'the stored access token is the one that passed verification');
      } else {
        assert.equal(home.exists(), false, 'a failed sign-in writes nothing');
      }
    },
  );

  test(
    '"no credential was saved" holds when the refresh during verification succeeds but the retry is refused',
    async () => {
      const { server, home, run } = await fresh();
      server.queue('me', { status: 401, json: { message: 'not yet' } }, { status: 401, json: { message: 'still no' } });
      const r = await run(['auth', 'login', '--device'], { pty: true });
      assert.equal(r.code, 1, r.output);
      assert.match(r.stdout, /no credential was saved/);
      assert.equal(home.exists(), false, 'nothing written');
    },
  );

  test('access_denied: "access was denied", nothing written, device code never shown', async () => {
    const { server, home, run } = await fresh();
    server.queue('token', (req) => ({
      status: 400,
      json: { error: 'access_denied', error_description: `user refused device_code=${req.body.device_code}` },
    }));
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /Device sign-in failed: access was denied/);
    assert.match(r.stdout, /auth login --device/);
    assert.equal(home.exists(), false);
    assert.equal(server.requests('me').length, 0);
    assertNoSecrets(r.output, secretsOf(server));
  });

  test('expired_token: "the code expired"', async () => {
    const { server, home, run } = await fresh();
    server.queue('token', { status: 400, json: { error: 'expired_token' } });
    const r = await run(['auth', 'login', '--device'], { pty: true, env: { HYPERFRAMES_LOG: 'debug' } });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /Device sign-in failed: the code expired/);
    assert.equal(home.exists(), false);
    assertNoSecrets(r.output, secretsOf(server));
  });
});

describe('auth login --device: refusals and early failures', () => {
  test('refused with CI=true even on a terminal', async () => {
    const { server, home, run } = await fresh();
    const r = await run(['auth', 'login', '--device'], { pty: true, env: { CI: 'true' } });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /--device/);
    assert.match(r.stdout, /HEYGEN_API_KEY/);
    assert.equal(server.log.length, 0);
    assert.equal(home.exists(), false);
  });

  test('refused without TTYs', async () => {
    const { server, run } = await fresh();
    const r = await run(['auth', 'login', '--device']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--device/);
    assert.equal(server.log.length, 0);
  });

  test('refused when only stdout is a terminal (stdin redirected)', async () => {
    const { server, run } = await fresh();
    const r = await run(['auth', 'login', '--device'], { pty: true, ptyRedirect: '</dev/null' });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /interactive terminal/);
    assert.equal(server.log.length, 0);
  });

  test('device authorization HTTP error fails at once with DEVICE_AUTH_FAILED wording', async () => {
    const { server, home, run } = await fresh();
    server.queue('device', { status: 400, json: { error: 'invalid_client', error_description: 'client test-client unknown' } });
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /Device sign-in failed: authorization server returned HTTP 400/);
    assert.equal(server.requests('token').length, 0);
    assert.equal(home.exists(), false);
  });

  test('an unsafe verification URI (userinfo) is refused before anything is shown', async () => {
    const { server, run } = await fresh();
    server.deviceOverrides = { verification_uri: 'https://user:pass@example.com/device', verification_uri_complete: undefined };
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /verification_uri must not contain user information/);
    assert.doesNotMatch(r.stdout, /user:pass/);
    assertNoSecrets(r.output, [...server.deviceCodes]);
  });

  test('a prefix-numeric expires_in ("600seconds") is refused', async () => {
    const { server, run } = await fresh();
    server.deviceOverrides = { expires_in: '600seconds' };
    const r = await run(['auth', 'login', '--device'], { pty: true });
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /expires_in/);
    assert.equal(server.requests('token').length, 0);
  });
});
