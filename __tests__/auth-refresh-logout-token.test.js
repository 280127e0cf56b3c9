'use strict';
// `hyperframes auth refresh`, `auth logout` and `auth token`.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { useContract, isoIn, parseJson, fileMode } = require('./support/setup.js');

const KEY = 'hg_STOREDKEY_0123456789';
const AT = 'at_SECRETACCESS_stored_0123456789';
const RT = 'rt_SECRETREFRESH_stored_0123456789';

describe('auth refresh', () => {
  const ctx = useContract();

  test('persists the new tokens, keeping unknown oauth keys, api_key, user and foreign keys', async () => {
    ctx.server.addRefreshToken(RT);
    const prior = {
      foreign: [1, 2],
      api_key: KEY,
      oauth: { vendor_meta: { region: 'eu' }, access_token: AT, refresh_token: RT, expires_at: isoIn(600), scope: 'openid profile email', token_type: 'Bearer' },
      user: { email: 'old@example.com', team_id: 't' },
    };
    ctx.home.write(prior);
    const r = await ctx.run(['auth', 'refresh']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^✓ Refreshed OAuth access token.*\.$/m);

    const [req] = ctx.server.requests('token');
    assert.deepEqual(req.body, { grant_type: 'refresh_token', refresh_token: RT, client_id: 'test-client' });
    assert.match(req.headers['content-type'], /application\/x-www-form-urlencoded/);

    const issued = ctx.server.issued[0];
    const file = ctx.home.read();
    assert.equal(file.oauth.access_token, issued.access_token);
    assert.equal(file.oauth.refresh_token, issued.refresh_token, 'the rotated refresh token replaces the old one');
    assert.deepEqual(file.oauth.vendor_meta, { region: 'eu' });
    assert.match(file.oauth.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(new Date(file.oauth.expires_at).getTime() > Date.now() + 3000_000);
    assert.equal(file.api_key, KEY);
    assert.deepEqual(file.foreign, [1, 2]);
    assert.deepEqual(file.user, prior.user);
    assert.equal(fileMode(ctx.home.credPath), 0o600);
  });

  test('keeps the previous refresh token, scope and type when the response omits them', async () => {
    ctx.server.addRefreshToken(RT);
    ctx.server.rotateRefresh = false;
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600), scope: 'openid custom', token_type: 'Bearer' } });
    ctx.server.queue('token', (req, s) => {
      const t = s.issueTokens({ refresh: false });
      return { status: 200, json: { access_token: t.access_token, expires_in: '1800' } };
    });
    const r = await ctx.run(['auth', 'refresh', '--json']);
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.equal(j.ok, true);
    assert.ok(new Date(j.expiresAt).getTime() > Date.now());
    const file = ctx.home.read();
    assert.equal(file.oauth.access_token, ctx.server.issued[0].access_token);
    assert.equal(file.oauth.refresh_token, RT);
    assert.equal(file.oauth.scope, 'openid custom');
    assert.equal(file.oauth.token_type, 'Bearer');
  });

  test('no refresh token: clear error, nothing sent', async () => {
    ctx.home.write({ api_key: KEY, oauth: { access_token: AT, expires_at: isoIn(600) } });
    const before = ctx.home.readRaw();
    const r = await ctx.run(['auth', 'refresh']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No OAuth refresh token to use\./);
    assert.match(r.stderr, /hyperframes auth login/);
    assert.equal(ctx.server.log.length, 0);
    assert.equal(ctx.home.readRaw(), before);
  });

  test('signed out: the same clear error', async () => {
    const r = await ctx.run(['auth', 'refresh']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No OAuth refresh token to use\./);
    assert.equal(ctx.home.exists(), false);
  });

  test('an env key is not OAuth: refresh uses the stored session only', async () => {
    ctx.server.addRefreshToken(RT);
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    const r = await ctx.run(['auth', 'refresh'], { env: { HEYGEN_API_KEY: 'hg_ENVKEY_0123456789' } });
    assert.equal(r.code, 0, r.output);
    assert.equal(ctx.home.read().oauth.access_token, ctx.server.issued[0].access_token);
  });

  test('refresh rejected (400): REFRESH_FAILED message and a re-login hint, store unchanged', async () => {
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    const before = ctx.home.readRaw();
    const r = await ctx.run(['auth', 'refresh']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /refresh token was rejected \(HTTP 400/);
    assert.match(r.stderr, /invalid_grant/);
    assert.match(r.stderr, /Run `hyperframes auth login` to sign in again\./);
    assert.equal(ctx.home.readRaw(), before);

    const j = await ctx.run(['auth', 'refresh', '--json']);
    assert.equal(j.code, 1);
    const body = parseJson(j.stdout);
    assert.equal(body.ok, false);
    assert.match(body.error, /refresh token was rejected/);
    assert.match(body.hint, /auth login/);
  });

  test('token endpoint 5xx is an API error, not REFRESH_FAILED', async () => {
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    ctx.server.queue('token', { status: 502, body: 'bad gateway' });
    const r = await ctx.run(['auth', 'refresh', '--json']);
    assert.equal(r.code, 1);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, false);
    assert.match(body.error, /OAuth token endpoint error \(HTTP 502/);
    assert.equal(ctx.home.read().oauth.access_token, AT);
  });

  test('a malformed token response is REFRESH_FAILED and the store is unchanged', async () => {
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    const before = ctx.home.readRaw();
    ctx.server.queue('token', { status: 200, json: { token: 'nope' } });
    const r = await ctx.run(['auth', 'refresh', '--json']);
    assert.equal(r.code, 1);
    const body = parseJson(r.stdout);
    assert.match(body.error, /no access_token/);
    assert.match(body.hint, /auth login/);
    assert.equal(ctx.home.readRaw(), before);
  });

  test(
    'error JSON carries the stable code (REFRESH_FAILED / API_ERROR / NOT_CONFIGURED)',
    async () => {
      ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
      const rejected = await ctx.run(['auth', 'refresh', '--json']);
      assert.equal(parseJson(rejected.stdout).code, 'REFRESH_FAILED');
      ctx.server.queue('token', { status: 502, body: 'bad gateway' });
      const bad = await ctx.run(['auth', 'refresh', '--json']);
      assert.equal(parseJson(bad.stdout).code, 'API_ERROR');
      ctx.home.write('');
      const token = await ctx.run(['auth', 'token', '--json']);
      assert.equal(parseJson(token.stdout).code, 'NOT_CONFIGURED');
    },
  );

  test('a corrupt file is an error and is left byte-identical', async () => {
    const content = '{"oauth": {"access_token": ';
    ctx.home.write(content);
    const r = await ctx.run(['auth', 'refresh']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Credential file is unreadable/);
    assert.equal(ctx.home.readRaw(), content);
    assert.equal(ctx.server.log.length, 0);
  });
});

describe('auth logout', () => {
  const ctx = useContract();

  test('--yes revokes the refresh token, then the access token, and removes the file', async () => {
    ctx.home.write({ api_key: KEY, oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) }, user: { email: 'a@example.com' } });
    const r = await ctx.run(['auth', 'logout', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^✓ Signed out\. Removed ~\/\.heygen\/credentials\.$/m);
    assert.equal(ctx.home.exists(), false);
    const revokes = ctx.server.requests('revoke');
    assert.equal(revokes.length, 2);
    assert.deepEqual(revokes[0].body, { token: RT, client_id: 'test-client', token_type_hint: 'refresh_token' });
    assert.deepEqual(revokes[1].body, { token: AT, client_id: 'test-client', token_type_hint: 'access_token' });
    assert.match(revokes[0].headers['content-type'], /application\/x-www-form-urlencoded/);
  });

  test('-y works too; without OAuth nothing is revoked', async () => {
    ctx.home.write({ api_key: KEY });
    const r = await ctx.run(['auth', 'logout', '-y']);
    assert.equal(r.code, 0, r.output);
    assert.equal(ctx.home.exists(), false);
    assert.equal(ctx.server.requests('revoke').length, 0);
  });

  test('is idempotent when nothing is stored', async () => {
    const r = await ctx.run(['auth', 'logout', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /Signed out/);
  });

  test('a failing revoke endpoint is reported but the file is still removed', async () => {
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    ctx.server.queue('revoke', { status: 503, body: 'down' }, { status: 503, body: 'down' });
    const r = await ctx.run(['auth', 'logout', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /token revoke returned HTTP 503; local credentials cleared anyway/);
    assert.equal(ctx.home.exists(), false);
  });

  test('without --yes and a non-TTY stdin: "Aborted.", exit 1, file kept, nothing revoked', async () => {
    const content = ctx.home.write({ api_key: KEY, oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
    const r = await ctx.run(['auth', 'logout'], { input: 'y\n' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Aborted\.$/m);
    assert.match(r.stderr, /--yes/);
    assert.equal(ctx.home.readRaw(), content);
    assert.equal(ctx.server.log.length, 0);
  });

  function answer(reply) {
    let answered = false;
    return (text, child) => {
      if (!answered && /\[y\/N\]/.test(text)) {
        answered = true;
        child.stdin.write(reply);
      }
    };
  }

  test('on a terminal, answering n aborts and keeps the file', async () => {
    ctx.home.write({ api_key: KEY });
    const no = await ctx.run(['auth', 'logout'], { pty: true, onData: answer('n\n') });
    assert.equal(no.code, 1, no.output);
    assert.match(no.stdout, /Continue\? \[y\/N\]/);
    assert.match(no.stdout, /Aborted\./);
    assert.equal(ctx.home.exists(), true);
  });

  test(
    'on a terminal, answering yes signs out',
    async () => {
      ctx.home.write({ api_key: KEY });
      const yes = await ctx.run(['auth', 'logout'], { pty: true, onData: answer('yes\n') });
      assert.equal(yes.code, 0, yes.output);
      assert.equal(ctx.home.exists(), false);
    },
  );

  test('--keep-api-key removes only the OAuth session and keeps api_key and unknown keys', async () => {
    ctx.home.write({
      foreign: { v: 1 },
      api_key: KEY,
      oauth: { vendor: 1, access_token: AT, refresh_token: RT, expires_at: isoIn(600) },
      user: { email: 'a@example.com', team_id: 't-2' },
    });
    const r = await ctx.run(['auth', 'logout', '--keep-api-key', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^✓ OAuth session removed\. API key retained\.$/m);
    const file = ctx.home.read();
    assert.equal(file.oauth, undefined);
    assert.equal(file.api_key, KEY);
    assert.deepEqual(file.foreign, { v: 1 });
    assert.equal(file.user.team_id, 't-2');
    assert.equal(file.user.email, 'a@example.com');
    assert.equal(ctx.server.requests('revoke').length, 2);
  });

  test('--keep-api-key with no OAuth says there was none, and keeps the key', async () => {
    ctx.home.write({ api_key: KEY });
    const r = await ctx.run(['auth', 'logout', '--keep-api-key', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^✓ No OAuth session was stored\. API key retained\.$/m);
    assert.equal(ctx.home.read().api_key, KEY);
  });

  test('--keep-api-key with only OAuth and no foreign data deletes the file, and says no key remains', async () => {
    ctx.home.write({ oauth: { access_token: AT, expires_at: isoIn(600) } });
    const r = await ctx.run(['auth', 'logout', '--keep-api-key', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^✓ OAuth session removed\. No API key was stored, so no HeyGen credential remains\.$/m);
    assert.ok(!/API key retained/.test(r.stdout), r.stdout);
    assert.equal(ctx.home.exists(), false);
  });

  test('--keep-api-key with nothing stored says nothing was removed (never "API key retained")', async () => {
    const r = await ctx.run(['auth', 'logout', '--keep-api-key', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^✓ No OAuth session and no API key were stored; nothing was removed\.$/m);
    assert.ok(!/API key retained/.test(r.stdout), r.stdout);
  });

  test('an env key produces a warning and is not cleared', async () => {
    ctx.home.write({ api_key: KEY });
    const r = await ctx.run(['auth', 'logout', '--yes'], { env: { HEYGEN_API_KEY: 'hg_ENVKEY_0123456789' } });
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /HEYGEN_API_KEY is still set/);
    assert.equal(ctx.home.exists(), false);
    const alias = await ctx.run(['auth', 'logout', '--yes'], { env: { HYPERFRAMES_API_KEY: 'hg_ENVKEY_0123456789' } });
    assert.match(alias.stdout, /HYPERFRAMES_API_KEY is still set/);
  });

  test('a corrupt file is removed without revoking', async () => {
    ctx.home.write('{"oauth": ');
    const r = await ctx.run(['auth', 'logout', '--yes']);
    assert.equal(r.code, 0, r.output);
    assert.equal(ctx.home.exists(), false);
    assert.equal(ctx.server.requests('revoke').length, 0);
  });
});

describe('auth token', () => {
  const ctx = useContract();

  test('prints exactly the stored key', async () => {
    ctx.home.write({ api_key: KEY });
    const r = await ctx.run(['auth', 'token']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout, `${KEY}\n`);
    assert.equal(r.stderr, '');
  });

  test('prints exactly the env key', async () => {
    const r = await ctx.run(['auth', 'token'], { env: { HEYGEN_API_KEY: 'hg_ENVKEY_0123456789' } });
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout, 'hg_ENVKEY_0123456789\n');
  });

  test('--json: {ok, token, type, source}', async () => {
    const at = 'at_SECRETACCESS_tok_0123456789';
    ctx.home.write({ oauth: { access_token: at, expires_at: isoIn(3600) } });
    const r = await ctx.run(['auth', 'token', '--json']);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(parseJson(r.stdout), { ok: true, token: at, type: 'oauth', source: 'file_json' });
  });

  test('an expired, refreshable token is refreshed first and the new one printed', async () => {
    ctx.server.addRefreshToken(RT);
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600) } });
    const r = await ctx.run(['auth', 'token']);
    assert.equal(r.code, 0, r.output);
    const issued = ctx.server.issued[0];
    assert.equal(r.stdout, `${issued.access_token}\n`);
    assert.equal(ctx.home.read().oauth.refresh_token, issued.refresh_token);
  });

  test('signed out: NOT_CONFIGURED, exit 1, nothing on stdout', async () => {
    const r = await ctx.run(['auth', 'token']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /No HeyGen credentials found/);
    const j = await ctx.run(['auth', 'token', '--json']);
    assert.equal(j.code, 1);
    const body = parseJson(j.stdout);
    assert.equal(body.ok, false);
    assert.match(body.error, /No HeyGen credentials found/);
  });
});

describe('auth (no subcommand)', () => {
  const ctx = useContract();
  test('prints help with the environment variables and exits 0', async () => {
    const r = await ctx.run(['auth']);
    assert.equal(r.code, 0, r.output);
    for (const word of ['login', 'status', 'logout', 'refresh', 'token', 'HEYGEN_API_KEY', 'HYPERFRAMES_API_KEY', 'HEYGEN_CONFIG_DIR']) {
      assert.ok(r.stdout.includes(word), `help mentions ${word}`);
    }
  });

  test('usage errors exit 1', async () => {
    const r = await ctx.run(['auth', 'login', '--no-browser']);
    assert.equal(r.code, 1);
  });
});
