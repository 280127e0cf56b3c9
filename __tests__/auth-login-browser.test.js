'use strict';
// Browser OAuth (`hyperframes auth login`): run under a real pseudo-terminal with $BROWSER set to a
// fake browser that follows the authorize redirect to the CLI's loopback listener.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { useContract, assertNoSecrets, fileMode, isoIn } = require('./support/setup.js');
const { fakeBrowserCommand, FAKE_BROWSER } = require('./support/cli.js');
const { challengeOf } = require('./support/contract-server.js');

describe('auth login (browser OAuth)', () => {
  const ctx = useContract();

  function browserEnv(extra = {}) {
    const logFile = path.join(ctx.home.dir, 'browser.log');
    return { env: { BROWSER: fakeBrowserCommand(), FAKE_BROWSER_LOG: logFile, ...extra }, logFile };
  }

  // The fake browser logs its visit after reading the callback page, which may be just after the
  // CLI has exited: wait for the line (bounded) instead of racing it.
  async function browserVisits(logFile) {
    for (let i = 0; i < 100 && !fs.existsSync(logFile); i++) await new Promise((r) => setTimeout(r, 50));
    if (!fs.existsSync(logFile)) return [];
    return fs.readFileSync(logFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  describe('success', () => {
    test('PKCE round trip: tokens and user persisted, authorize URL printed without its query', async () => {
      const { env, logFile } = browserEnv();
      const r = await ctx.run(['auth', 'login'], { pty: true, env });
      assert.equal(r.code, 0, r.output);

      // What the person sees.
      const opening = /^Opening browser to (\S+) \.\.\.$/m.exec(r.stdout);
      assert.ok(opening, r.stdout);
      assert.equal(opening[1], `${ctx.server.url}/oauth/authorize`, 'origin + path, no query string');
      assert.doesNotMatch(r.stdout, /code_challenge|state=|client_id=/);
      const waiting = /^Waiting for callback on (http:\/\/127\.0\.0\.1:\d+\/oauth\/callback) \.\.\.$/m.exec(r.stdout);
      assert.ok(waiting, r.stdout);
      assert.match(r.stdout, /^✓ Signed in as ada@example\.com\.$/m);

      // What the identity provider saw.
      const [auth] = ctx.server.requests('authorize');
      assert.ok(auth, 'the browser reached the authorize endpoint');
      assert.deepEqual(ctx.server.problems, []);
      assert.equal(auth.query.response_type, 'code');
      assert.equal(auth.query.client_id, 'test-client');
      assert.equal(auth.query.redirect_uri, waiting[1]);
      assert.equal(auth.query.scope, 'openid profile email');
      assert.equal(auth.query.code_challenge_method, 'S256');
      assert.match(auth.query.state, /^[A-Za-z0-9_-]{43}$/, 'state: b64url of 32 random bytes');

      const [tok] = ctx.server.requests('token');
      assert.equal(tok.body.grant_type, 'authorization_code');
      assert.equal(tok.body.code, ctx.server.authorizations[0].code);
      assert.equal(tok.body.redirect_uri, auth.query.redirect_uri, 'the redirect URI is reused byte-for-byte');
      assert.equal(tok.body.client_id, 'test-client');
      assert.match(tok.body.code_verifier, /^[A-Za-z0-9_-]{43,128}$/);
      assert.equal(challengeOf(tok.body.code_verifier), auth.query.code_challenge);
      assert.match(tok.headers['content-type'], /application\/x-www-form-urlencoded/);
      assert.match(tok.headers.accept || '', /application\/json/);

      // What the browser got back from the loopback listener.
      const [visit] = await browserVisits(logFile);
      assert.equal(visit.callbackStatus, 200, JSON.stringify(visit));
      assert.match(visit.callbackBody, /signed in/i);
      assert.equal(visit.callbackHeaders['cache-control'], 'no-store');
      assert.equal(visit.callbackHeaders.connection, 'close');

      // What was written.
      const issued = ctx.server.issued[0];
      const file = ctx.home.read();
      assert.equal(file.oauth.access_token, issued.access_token);
      assert.equal(file.oauth.refresh_token, issued.refresh_token);
      assert.match(file.oauth.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO with milliseconds');
      assert.ok(Math.abs(new Date(file.oauth.expires_at).getTime() - (Date.now() + 3600_000)) < 600_000);
      assert.equal(file.oauth.scope, 'openid profile email');
      assert.equal(file.oauth.token_type, 'Bearer');
      assert.deepEqual(file.user, { email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', username: 'ada_l' });
      assert.equal(fileMode(ctx.home.credPath), 0o600);

      // The identity probe used the new token.
      const [me] = ctx.server.requests('me');
      assert.equal(me.headers.authorization, `Bearer ${issued.access_token}`);
      assert.equal(me.headers['x-heygen-source'], 'cli');

      assertNoSecrets(r.output, [issued.access_token, issued.refresh_token, tok.body.code, tok.body.code_verifier]);
    });

    test('a fresh login replaces the oauth block (no old refresh token) and keeps api_key, user extras and foreign keys', async () => {
      ctx.home.write({
        foreign_root: { from: 'heygen-cli' },
        api_key: 'hg_KEEPKEY_0123456789',
        oauth: { legacy_vendor: 1, access_token: 'at_SECRETACCESS_old_0123', refresh_token: 'rt_SECRETREFRESH_old_0123', expires_at: isoIn(-60) },
        user: { email: 'old@example.com', team_id: 'team-9' },
      });
      // The IdP issues no refresh token this time: the old one must not be inherited.
      ctx.server.queue('token', (req, s) => {
        const rec = s.codes.get(req.body.code);
        assert.ok(rec && challengeOf(req.body.code_verifier) === rec.challenge, 'valid PKCE exchange');
        return { status: 200, json: s.issueTokens({ refresh: false }) };
      });
      const { env } = browserEnv();
      const r = await ctx.run(['auth', 'login'], { pty: true, env });
      assert.equal(r.code, 0, r.output);
      const file = ctx.home.read();
      assert.equal(file.oauth.access_token, ctx.server.issued[0].access_token);
      assert.equal(file.oauth.refresh_token, undefined, 'the old refresh token is not inherited');
      assert.equal(file.api_key, 'hg_KEEPKEY_0123456789');
      assert.deepEqual(file.foreign_root, { from: 'heygen-cli' });
      assert.equal(file.user.team_id, 'team-9');
      assert.equal(file.user.email, 'ada@example.com');
    });

    test('falsy CODESPACES / container values do not block the browser', async () => {
      const { env } = browserEnv({ CODESPACES: 'false', container: '0', GITPOD_WORKSPACE_ID: '', SSH_TTY: '' });
      const r = await ctx.run(['auth', 'login'], { pty: true, env });
      assert.equal(r.code, 0, r.output);
      assert.ok(ctx.home.read().oauth.access_token);
    });

    test('when the browser cannot be opened, the fallback is printed', async () => {
      // The flow waits for a callback that never comes here; end it once the fallback is shown.
      const r = await ctx.run(['auth', 'login'], {
        pty: true,
        env: { BROWSER: 'false' },
        onData: (text, child) => {
          if (/Waiting for callback/.test(text)) child.kill('SIGTERM');
        },
      });
      assert.match(r.stdout, /^Opening browser to \S+\/oauth\/authorize \.\.\.$/m);
      assert.match(r.stdout, /Could not open browser automatically \(false exited with .+\)\./);
      assert.match(r.stdout, /Open this URL manually to continue:\nhttp:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+/);
      assert.match(r.stdout, /\(open the URL above to continue\)/);
      assert.equal(ctx.home.exists(), false);
    });

    test(
      'when the browser cannot be opened, the printed URL works when opened by hand',
      async () => {
      let opened = false;
      const r = await ctx.run(['auth', 'login'], {
        pty: true,
        env: { BROWSER: 'false' },
        onData: (text) => {
          const m = /Open this URL manually to continue:\n(\S+)\n/.exec(text);
          if (m && !opened && /Waiting for callback/.test(text)) {
            opened = true;
            spawn(process.execPath, [FAKE_BROWSER, m[1]], { stdio: 'ignore', env: { PATH: process.env.PATH } });
          }
        },
      });
      assert.ok(opened, r.output);
      assert.doesNotMatch(r.stdout, /state=<redacted>/);
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /^✓ Signed in as ada@example\.com\.$/m);
    },
    );

    test('a 401 on the identity probe refreshes once and persists the refreshed tokens', async () => {
      ctx.server.queue('me', { status: 401, json: { message: 'propagating' } });
      const { env } = browserEnv();
      const r = await ctx.run(['auth', 'login'], { pty: true, env });
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /^✓ Signed in as ada@example\.com\.$/m);
      const [, refreshed] = ctx.server.issued;
      assert.ok(refreshed, 'a refresh happened');
      assert.deepEqual(ctx.server.requests('token').map((q) => q.body.grant_type), ['authorization_code', 'refresh_token']);
      const file = ctx.home.read();
      assert.equal(file.oauth.access_token, refreshed.access_token);
      assert.equal(file.oauth.refresh_token, refreshed.refresh_token);
      assert.equal(file.user.email, 'ada@example.com');
    });

    test('identity probe failure after saving the tokens still exits 0 and clears the stale user block', async () => {
      ctx.home.write({ api_key: 'hg_KEEPKEY_0123456789', user: { email: 'stale@example.com' } });
      ctx.server.queue('me', { status: 503, json: { error: 'busy' } });
      const { env } = browserEnv();
      const r = await ctx.run(['auth', 'login'], { pty: true, env });
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /Signed in\. The identity check failed: .*\(the sign-in is saved; `hyperframes auth status` checks again\)/);
      const file = ctx.home.read();
      assert.equal(file.oauth.access_token, ctx.server.issued[0].access_token);
      assert.equal(file.user, undefined);
    });
  });

  describe('failures write nothing', () => {
    const failures = {
      'IdP error': ['error', /Sign-in failed: .*access_denied.*The user said no/],
      'missing code': ['missing_code', /Sign-in failed: .*code/i],
    };
    for (const [name, [mode, message]] of Object.entries(failures)) {
      test(name, async () => {
        ctx.server.authorizeMode = mode;
        const { env, logFile } = browserEnv();
        const r = await ctx.run(['auth', 'login'], { pty: true, env });
        assert.equal(r.code, 1, r.output);
        assert.match(r.stdout, message);
        assert.equal(ctx.home.exists(), false, 'nothing written');
        assert.equal(ctx.server.requests('token').length, 0, 'no code exchange');
        const [visit] = await browserVisits(logFile);
        assert.equal(visit.callbackStatus, 400, JSON.stringify(visit));
        assert.match(visit.callbackBody, /Sign-in failed/);
        assertNoSecrets(r.output, [ctx.server.authorizations[0].code]);
      });
    }

    // Anything on this machine can reach the loopback port: a callback without this attempt's
    // state (a code, or an `?error=…`) gets a 400 page and is ignored, and the sign-in goes on
    // waiting for the real one (here: until the test stops it).
    for (const mode of ['wrong_state', 'error_no_state', 'error_wrong_state']) {
      test(`a callback without the right state is ignored (${mode})`, async () => {
        ctx.server.authorizeMode = mode;
        const { env, logFile } = browserEnv();
        let timer;
        const r = await ctx.run(['auth', 'login'], {
          pty: true,
          env,
          onSpawn: (child) => {
            timer = setInterval(() => {
              if (fs.existsSync(logFile)) {
                clearInterval(timer);
                // Still waiting a moment after the stray callback, then stopped by the test.
                setTimeout(() => child.kill('SIGTERM'), 500);
              }
            }, 100);
          },
        });
        clearInterval(timer);
        const [visit] = await browserVisits(logFile);
        assert.equal(visit.callbackStatus, 400, JSON.stringify(visit));
        assert.match(visit.callbackBody, /not recognised/);
        assert.doesNotMatch(r.stdout, /Sign-in failed|state mismatch|access_denied/i);
        assert.doesNotMatch(r.stdout, /Signed in/);
        assert.match(r.stdout, /Waiting for callback/);
        assert.equal(ctx.home.exists(), false, 'nothing written');
        assert.equal(ctx.server.requests('token').length, 0, 'no code exchange');
      });
    }

    test('a rejected code exchange (400) fails with a re-login hint and writes nothing', async () => {
      ctx.home.write({ api_key: 'hg_KEEPKEY_0123456789' });
      const before = ctx.home.readRaw();
      ctx.server.queue('token', (req) => ({
        status: 400,
        json: { error: 'invalid_grant', error_description: `code ${req.body.code} with code_verifier=${req.body.code_verifier} is expired` },
      }));
      const { env } = browserEnv();
      const r = await ctx.run(['auth', 'login'], { pty: true, env });
      assert.equal(r.code, 1, r.output);
      assert.match(r.stdout, /Sign-in failed: authorization code was rejected/);
      assert.match(r.stdout, /auth login/);
      assert.equal(ctx.home.readRaw(), before);
      const [tok] = ctx.server.requests('token');
      assertNoSecrets(r.output, [tok.body.code, tok.body.code_verifier]);
    });
  });

  describe('refusals point to --device', () => {
    test('without a TTY on stdout', async () => {
      const r = await ctx.run(['auth', 'login'], { env: { BROWSER: fakeBrowserCommand() } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Browser sign-in is not available/);
      assert.match(r.stderr, /hyperframes auth login --device/);
      assert.equal(ctx.server.log.length, 0);
      assert.equal(ctx.home.exists(), false);
    });

    const blockers = {
      SSH_CONNECTION: { SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22' },
      SSH_CLIENT: { SSH_CLIENT: '10.0.0.1 50000 22' },
      'CODESPACES=true': { CODESPACES: 'true' },
      REMOTE_CONTAINERS: { REMOTE_CONTAINERS: 'true' },
      GITPOD_WORKSPACE_ID: { GITPOD_WORKSPACE_ID: 'ws-123' },
      container: { container: 'podman' },
      'BROWSER=none': { BROWSER: 'none' },
      'HF_NO_BROWSER=1': { HF_NO_BROWSER: '1' },
    };
    for (const [name, extra] of Object.entries(blockers)) {
      test(name, async () => {
        const r = await ctx.run(['auth', 'login'], { pty: true, env: { BROWSER: fakeBrowserCommand(), ...extra } });
        assert.equal(r.code, 1, r.output);
        assert.match(r.stdout, /Browser sign-in is not available/);
        assert.match(r.stdout, /hyperframes auth login --device/);
        assert.equal(ctx.server.log.length, 0, 'no browser was opened');
        assert.equal(ctx.home.exists(), false);
      });
    }
  });
});
