'use strict';
// Hostile inputs on the sign-in side (issue #22, items 1, 3, 4, 8, 12, 14), run through the built
// CLI and the JS API against the contract server on 127.0.0.1: a credentials file that is a FIFO,
// a device or huge; absurd numbers and oversized tokens from the token endpoint; many processes
// refreshing one expired session at once against an identity provider that revokes on reuse;
// keys of the wrong shape; a 200 that says it failed; terminal escapes in the account's name; a
// credentials file owned by someone else.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { useContract, isoIn, parseJson, assertNoSecrets } = require('./support/setup.js');
const { buildEnv, ROOT } = require('./support/cli.js');
const { runNodeScript } = require('./support/node-child.js');

const KEY = 'hg_HOSTILEKEY_0123456789';
const AT = 'at_SECRETACCESS_hostile_0123456789';
const RT = 'rt_SECRETREFRESH_hostile_0123456789';
const ESC = '\x1b';

function mkfifo(p) {
  execFileSync('mkfifo', ['-m', '600', p]);
}

describe('a credentials file that is not a small regular file', () => {
  const ctx = useContract();

  const kinds = {
    'a FIFO': (p) => mkfifo(p),
    'a link to /dev/zero': (p) => fs.symlinkSync('/dev/zero', p),
    'a 500 MB sparse file': (p) => {
      const fd = fs.openSync(p, 'w', 0o600);
      fs.ftruncateSync(fd, 500 * 1024 * 1024);
      fs.closeSync(fd);
    },
  };
  for (const [name, make] of Object.entries(kinds)) {
    test(`${name}: refused at once with a code and a hint, never read, waited on or replaced`, async () => {
      fs.mkdirSync(ctx.home.configDir, { recursive: true, mode: 0o700 });
      make(ctx.home.credPath);
      const before = fs.lstatSync(ctx.home.credPath);

      const status = await ctx.run(['auth', 'status', '--json'], { timeoutMs: 20_000 });
      assert.equal(status.code, 1, status.output);
      const j = parseJson(status.stdout);
      assert.equal(j.configured, false);
      assert.equal(j.code, 'INVALID_STORE', status.stdout);
      assert.match(j.error, /FIFO|device|too large/);
      assert.match(j.hint, /regular file/);

      // A command that resolves a credential on its way (here `plan`) does not hang either.
      const plan = await ctx.run(['plan', '--json'], { timeoutMs: 20_000 });
      assert.match(plan.output, /INVALID_STORE|FIFO|device|too large/, plan.output);

      // A sign-in neither takes it for "signed out" nor replaces it.
      ctx.server.addApiKey(KEY);
      const login = await ctx.run(['auth', 'login', '--api-key', KEY], { timeoutMs: 20_000 });
      assert.equal(login.code, 1, login.output);
      assert.match(login.stderr, /Credential file is unusable/);
      const after = fs.lstatSync(ctx.home.credPath);
      assert.deepEqual([after.ino, after.mode, after.size], [before.ino, before.mode, before.size], 'left as it was');
      assert.equal(ctx.server.log.length, 0, 'nothing was sent');
    });
  }
});

describe('numbers and tokens from the token endpoint', () => {
  const ctx = useContract();

  function expiredSession() {
    ctx.server.addRefreshToken(RT);
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600), token_type: 'Bearer' } });
  }

  for (const expiresIn of [1e16, '99999999999999999999', 1.7976931348623157e308]) {
    test(`expires_in ${expiresIn}: auth refresh succeeds, the rotated refresh token is kept, the expiry is clamped`, async () => {
      expiredSession();
      ctx.server.tokenExpiresIn = expiresIn;
      const r = await ctx.run(['auth', 'refresh', '--json']);
      assert.equal(r.code, 0, r.output);
      assert.doesNotMatch(r.output, /panicked|out of bounds/);
      const file = ctx.home.read();
      assert.equal(file.oauth.refresh_token, ctx.server.issued[0].refresh_token);
      const expires = new Date(file.oauth.expires_at).getTime();
      assert.ok(expires > Date.now() + 300 * 86_400_000 && expires < Date.now() + 400 * 86_400_000, file.oauth.expires_at);
    });
  }

  test('expires_in 1e16 during a refresh that auth status makes: a signed-in report', async () => {
    expiredSession();
    ctx.server.tokenExpiresIn = 1e16;
    const r = await ctx.run(['auth', 'status', '--json']);
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.equal(j.configured, true);
    assert.equal(j.api_error, null);
    assert.equal(ctx.home.read().oauth.refresh_token, ctx.server.issued[0].refresh_token);
  });

  test('JS authStatus() with expires_in 1e16: a result, not a crash', async () => {
    expiredSession();
    ctx.server.tokenExpiresIn = 1e16;
    const env = buildEnv({ server: ctx.server, home: ctx.home });
    const script = `require(${JSON.stringify(ROOT)}).authStatus().then(
      (s) => console.log(JSON.stringify({ configured: s.configured, api_error: s.api_error })),
      (e) => { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); process.exit(1); })`;
    const r = await runNodeScript(script, env, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { configured: true, api_error: null });
  });

  test('a 200 KB access token is refused (REFRESH_FAILED) and the rotated refresh token is still kept', async () => {
    expiredSession();
    const rotated = ctx.server.addRefreshToken('rt_SECRETREFRESH_rotated_0123456789');
    ctx.server.queue('token', () => {
      ctx.server.refreshTokens.delete(RT); // the old one is spent, as a rotating IdP does
      return { status: 200, json: { access_token: `at_${'A'.repeat(200_000)}`, refresh_token: rotated, expires_in: 3600 } };
    });
    const r = await ctx.run(['auth', 'refresh', '--json']);
    assert.equal(r.code, 1, r.output);
    assert.equal(parseJson(r.stdout).code, 'REFRESH_FAILED');
    assert.match(r.stdout, /at most 8192/);
    const file = ctx.home.read();
    assert.equal(file.oauth.refresh_token, rotated, 'the rotated refresh token is not lost');
    assert.ok(file.oauth.access_token.length < 1000, 'the oversized token is never stored');
    // The next use refreshes with the kept token and works.
    const again = await ctx.run(['auth', 'refresh', '--json']);
    assert.equal(again.code, 0, again.output);
    assert.equal(ctx.server.requests('token')[1].body.refresh_token, rotated);
  });
});

describe('concurrent refresh of one expired session', () => {
  const ctx = useContract();
  const N = 8;

  test(`${N} processes at once: one refresh, the others use its tokens (an IdP that revokes on reuse is never tripped)`, async () => {
    ctx.server.addRefreshToken(RT);
    ctx.home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600), token_type: 'Bearer' } });
    let reuse = 0;
    const used = new Set();
    // A slow identity provider (so the processes overlap) that revokes the whole session when a
    // rotated-away refresh token comes back.
    const spec = (req, server) => {
      const rt = req.body && req.body.refresh_token;
      if (used.has(rt)) {
        reuse += 1;
        server.refreshTokens.clear();
        server.accessTokens.clear();
      }
      used.add(rt);
      return { fallthrough: true, delayMs: 400 };
    };
    for (let i = 0; i < N; i++) ctx.server.queue('token', spec);
    const runs = await Promise.all(Array.from({ length: N }, () => ctx.run(['auth', 'token'])));
    for (const r of runs) assert.equal(r.code, 0, r.output);
    const tokens = new Set(runs.map((r) => r.stdout.trim()));
    assert.equal(ctx.server.requests('token').length, 1, 'exactly one refresh');
    assert.equal(reuse, 0, 'no rotated refresh token was sent again');
    assert.deepEqual([...tokens], [ctx.server.issued[0].access_token], 'every process prints the one new token');
    assert.equal(ctx.home.read().oauth.refresh_token, ctx.server.issued[0].refresh_token);
  });
});

describe('keys of the wrong shape and answers that say they failed', () => {
  const ctx = useContract();

  test('a 200 whose body is an error does not save the key', async () => {
    ctx.server.queue('me', { status: 200, json: { error: { code: 'invalid_api_key', message: 'Invalid API key' } } });
    const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /HeyGen did not accept the API key: .*Invalid API key/);
    assert.equal(ctx.home.exists(), false, 'nothing saved');
  });

  const stored = {
    'a whitespace-only key': () => ctx.home.write({ api_key: '    ' }),
    'a key with spaces': () => ctx.home.write({ api_key: 'hg_0123 456789' }),
    'a 50 MB key': () => ctx.home.write({ api_key: `hg_${'k'.repeat(50 * 1024 * 1024)}` }),
    '200 KB of brackets (legacy file)': () => ctx.home.write('['.repeat(200 * 1024)),
    'a 2 KB legacy key': () => ctx.home.write(`hg_${'k'.repeat(2048)}\n`),
    'a 200 KB stored access token': () => ctx.home.write({ oauth: { access_token: `at_${'A'.repeat(200_000)}`, expires_at: isoIn(3600) } }),
  };
  for (const [name, write] of Object.entries(stored)) {
    test(`${name} in the file is refused before it is sent`, async () => {
      write();
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1, r.output);
      assert.equal(parseJson(r.stdout).code, 'INVALID_STORE', r.stdout);
      assert.equal(ctx.server.requests('me').length, 0, 'no header was sent');
      assert.ok(r.output.length < 2000, 'the key is not echoed');
    });
  }

  for (const [name, value] of [['blank', '   '], ['2 KB', `hg_${'k'.repeat(2048)}`], ['spaced', 'hg_0123 456789']]) {
    test(`HEYGEN_API_KEY ${name}: refused with a code before it is sent`, async () => {
      const r = await ctx.run(['auth', 'status', '--json'], { env: { HEYGEN_API_KEY: value } });
      assert.equal(r.code, 1, r.output);
      assert.equal(parseJson(r.stdout).code, 'INVALID_STORE', r.stdout);
      assert.equal(ctx.server.requests('me').length, 0);
    });
  }

  test('a key with spaces is refused at login, before anything is sent', async () => {
    const r = await ctx.run(['auth', 'login', '--api-key', 'hg_0123 456789']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stderr, /must not contain spaces/);
    assert.equal(ctx.server.log.length, 0);
  });

  test('an HTML error page (431) is named by its status, never printed', async () => {
    ctx.server.addApiKey(KEY);
    ctx.home.write({ api_key: KEY });
    const page = `<html><head><title>431 Request Header Fields Too Large</title></head><body>${'<p>x</p>'.repeat(500)}</body></html>`;
    ctx.server.queue('me', { status: 431, body: page, headers: { 'content-type': 'text/html' } });
    const r = await ctx.run(['auth', 'status']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.stdout, /API check failed: HeyGen API error \(431\): 431 Request Header Fields Too Large/);
    assert.doesNotMatch(r.output, /<html|<p>/);
  });
});

describe('text from the server reaches the terminal without escapes', () => {
  const ctx = useContract();

  test('auth status: an account name with escape sequences and bidi overrides is shown stripped', async () => {
    ctx.server.addApiKey(KEY);
    ctx.home.write({ api_key: KEY });
    ctx.server.user.email = `ada${ESC}[2J${ESC}]0;owned\x07@exa\u202emple.com${ESC}[31m`;
    ctx.server.user.subscription.plan = `Creator${ESC}[5m\x9b31m`;
    const r = await ctx.run(['auth', 'status']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^Account: {2}ada@example\.com$/m);
    assert.match(r.stdout, /^Plan: {5}Creator31m$/m);
    assert.ok(!r.output.includes(ESC) && !r.output.includes('\u202e') && !r.output.includes('\x9b'), JSON.stringify(r.output));
    // JSON keeps the server's text, escaped by the serializer.
    const j = await ctx.run(['auth', 'status', '--json']);
    assert.ok(!j.stdout.includes(ESC), 'no raw ESC in JSON either');
    assert.equal(parseJson(j.stdout).user.email, ctx.server.user.email);
  });
});

describe('doctor: credentials owned by another user', () => {
  const ctx = useContract();
  const root = typeof process.geteuid === 'function' && process.geteuid() === 0;

  test('a credentials file owned by another uid is flagged', { skip: !root && 'needs root to give a file to another user' }, async () => {
    ctx.home.write({ api_key: KEY });
    fs.chownSync(ctx.home.credPath, 65534, 65534);
    const r = await ctx.run(['doctor', '--json']);
    const cred = parseJson(r.stdout).checks.find((c) => c.name === 'Credentials');
    assert.equal(cred.ok, false, JSON.stringify(cred));
    assert.match(cred.detail, /owned by another user.*uid 65534/);
    assert.match(cred.hint, /delete/);
    assertNoSecrets(r.output, [KEY]);
    fs.chownSync(ctx.home.configDir, 65534, 65534);
    fs.chownSync(ctx.home.credPath, 0, 0);
    const d = parseJson((await ctx.run(['doctor', '--json'])).stdout).checks.find((c) => c.name === 'Credentials');
    assert.match(d.detail, /the folder .* is owned by uid 65534/);
    assert.ok(path.isAbsolute(ctx.home.configDir));
  });
});
