'use strict';
// `hyperframes auth status [--json]`: resolution order, the rows and JSON shapes users script
// against, the refresh-on-401 path, API failures, broken stores and the request headers.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { useContract, isoIn, parseJson } = require('./support/setup.js');
const { lines } = require('./support/cli.js');

const KEY = 'hg_STATUSKEY_0123456789';
const ENV_KEY = 'hg_ENVKEY_0123456789';

describe('auth status', () => {
  const ctx = useContract();

  describe('signed out', () => {
    test('non-interactive human output is exactly two lines and exits 1', async () => {
      const r = await ctx.run(['auth', 'status']);
      assert.equal(r.code, 1);
      const out = lines(r.stdout);
      assert.equal(out.length, 2, r.stdout);
      assert.equal(out[0], 'Not signed in to HeyGen (non-interactive).');
      assert.match(out[1], /HEYGEN_API_KEY/);
      assert.match(out[1], /local engines/);
      // Nothing is installed in the test's models dir: no engine is claimed (#21 item 8).
      assert.match(out[1], /voice: Kokoro is not installed; music: MusicGen is not installed\./);
      assert.equal(r.stderr, '');
      assert.equal(ctx.server.log.length, 0, 'no request is made when signed out');
    });

    test('--json is one compact line with the local fallback and offline engines', async () => {
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1);
      assert.equal(lines(r.stdout).length, 1, 'unconfigured JSON is compact');
      const j = parseJson(r.stdout);
      assert.equal(j.configured, false);
      assert.equal(j.interactive, false);
      assert.equal(j.recommended_action, 'npx hyperframes auth login');
      assert.equal(j.fallback, 'local');
      assert.ok(Array.isArray(j.offline_engines));
      assert.deepEqual(
        j.offline_engines.map((e) => e.capability),
        ['voice', 'music'],
      );
      for (const e of j.offline_engines) {
        assert.equal(typeof e.label, 'string');
        assert.equal(typeof e.ready, 'boolean');
        assert.ok(!('setup_hint' in e), 'the hint key is camelCase');
        if (!e.ready) assert.equal(typeof e.setupHint, 'string', JSON.stringify(e));
      }
      // An empty models dir: nothing is installed, so each engine says how to set it up.
      assert.ok(j.offline_engines.every((e) => !e.ready && e.setupHint));
    });

    test('CI=true is never interactive, even on a terminal', async () => {
      const r = await ctx.run(['auth', 'status', '--json'], { pty: true, env: { CI: 'true' } });
      assert.equal(r.code, 1);
      const j = parseJson(r.stdout.trim());
      assert.equal(j.interactive, false);
    });

    test('interactive guidance on a terminal points at npx hyperframes only', async () => {
      const r = await ctx.run(['auth', 'status'], { pty: true });
      assert.equal(r.code, 1);
      assert.match(r.stdout, /Not signed in to HeyGen — local engines \(free, offline\): voice: Kokoro is not installed; music: MusicGen is not installed\./);
      assert.match(r.stdout, /no per-repo \.env/);
      assert.match(r.stdout, /npx hyperframes auth login\n/);
      assert.match(r.stdout, /npx hyperframes auth login --api-key/);
      assert.match(r.stdout, /Prefer offline\? Workflows will use these local engines:/);
      assert.match(r.stdout, /voice → /);
      assert.match(r.stdout, /music → /);
      assert.doesNotMatch(r.stdout, /heygen auth login/);
    });

    test('a file holding only a user block is not a credential', async () => {
      ctx.home.write({ user: { email: 'ghost@example.com' } });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1);
      assert.equal(parseJson(r.stdout).configured, false);
    });
  });

  describe('environment keys', () => {
    test('HEYGEN_API_KEY: source env, persisted_user null even when the file has a user block', async () => {
      ctx.server.addApiKey(ENV_KEY);
      ctx.home.write({ api_key: KEY, user: { email: 'file-user@example.com' } });
      const r = await ctx.run(['auth', 'status', '--json'], { env: { HEYGEN_API_KEY: ENV_KEY } });
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.configured, true);
      assert.equal(j.source, 'env');
      assert.equal(j.type, 'api_key');
      assert.equal(j.api_error, null);
      assert.equal(j.persisted_user, null);
      assert.equal(j.user.email, 'ada@example.com');
      assert.ok(!('expires_at' in j), 'api keys have no expiry fields');
      assert.ok(r.stdout.startsWith('{\n  "'), 'configured JSON is pretty-printed with 2 spaces');
      const [req] = ctx.server.requests('me');
      assert.equal(req.headers['x-api-key'], ENV_KEY);
    });

    test('HYPERFRAMES_API_KEY: source env_alias, used when HEYGEN_API_KEY is empty', async () => {
      ctx.server.addApiKey(ENV_KEY);
      const r = await ctx.run(['auth', 'status', '--json'], {
        env: { HEYGEN_API_KEY: '', HYPERFRAMES_API_KEY: ENV_KEY },
      });
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.source, 'env_alias');
      assert.equal(j.persisted_user, null);
    });

    test('human rows for an env key', async () => {
      ctx.server.addApiKey(ENV_KEY);
      const r = await ctx.run(['auth', 'status'], { env: { HEYGEN_API_KEY: ENV_KEY } });
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /^Source: +env \(HEYGEN_API_KEY\)$/m);
      assert.match(r.stdout, /^Type: +api_key$/m);
      assert.match(r.stdout, /^Account: +ada@example\.com$/m);
    });

    test('control characters in HEYGEN_API_KEY are a hard error, not a fall-through', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY });
      const env = { HEYGEN_API_KEY: 'hg_BADKEY\n0123456789' };
      const j = await ctx.run(['auth', 'status', '--json'], { env });
      assert.equal(j.code, 1);
      const body = parseJson(j.stdout);
      assert.equal(body.configured, false);
      assert.match(body.error, /HEYGEN_API_KEY/);
      assert.match(body.error, /control characters/);
      assert.ok('hint' in body);
      const h = await ctx.run(['auth', 'status'], { env });
      assert.equal(h.code, 1);
      assert.match(h.stderr, /HEYGEN_API_KEY/);
      assert.equal(ctx.server.requests('me').length, 0, 'the file key is not used instead');
    });
  });

  describe('credentials file', () => {
    test('api_key: source file_json, persisted_user with display_name, account rows', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY, user: { email: 'old@example.com', first_name: 'Old' } });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.source, 'file_json');
      assert.equal(j.type, 'api_key');
      assert.equal(j.api_error, null);
      assert.deepEqual(j.persisted_user, {
        email: 'old@example.com',
        first_name: 'Old',
        last_name: null,
        username: null,
        display_name: 'old@example.com',
      });
      assert.equal(j.user.email, 'ada@example.com');
      assert.equal(j.user.username, 'ada_l');

      const h = await ctx.run(['auth', 'status']);
      assert.equal(h.code, 0, h.output);
      assert.match(h.stdout, /^Source: +file \(~\/\.heygen\/credentials\)$/m);
      assert.match(h.stdout, /^Type: +api_key$/m);
      assert.match(h.stdout, /^Account: +ada@example\.com$/m);
      assert.match(h.stdout, /^Billing: +subscription$/m);
      assert.match(h.stdout, /^Wallet: +12\.5 USD$/m);
      assert.match(h.stdout, /^Plan: +Creator$/m);
      assert.match(h.stdout, /^Premium credits: 42 \(resets 2031-02-03\)$/m);
    });

    test('HEYGEN_CONFIG_DIR is used verbatim; empty means unset (<home>/.heygen)', async () => {
      const path = require('node:path');
      const fs = require('node:fs');
      const other = path.join(ctx.home.dir, 'elsewhere', 'cfg');
      fs.mkdirSync(other, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(other, 'credentials'), JSON.stringify({ api_key: 'hg_OTHERDIR_0123456789' }), { mode: 0o600 });
      ctx.home.write({ api_key: KEY });
      ctx.server.addApiKey(KEY);
      ctx.server.addApiKey('hg_OTHERDIR_0123456789');
      const r = await ctx.run(['auth', 'status', '--json'], { env: { HEYGEN_CONFIG_DIR: other } });
      assert.equal(r.code, 0, r.output);
      assert.equal(ctx.server.requests('me')[0].headers['x-api-key'], 'hg_OTHERDIR_0123456789');
      const e = await ctx.run(['auth', 'status', '--json'], { env: { HEYGEN_CONFIG_DIR: '' } });
      assert.equal(e.code, 0, e.output);
      assert.equal(ctx.server.requests('me')[1].headers['x-api-key'], KEY);
    });

    test('an unwrapped /v3/users/me body is read too', async () => {
      ctx.server.addApiKey(KEY);
      ctx.server.meShape = 'unwrapped';
      ctx.home.write({ api_key: KEY });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.user.email, 'ada@example.com');
      assert.equal(j.persisted_user, null, 'nothing stored → null');
    });

    test('legacy plaintext file: source file_legacy', async () => {
      const legacy = 'hg_LEGACYKEY_0123456789';
      ctx.server.addApiKey(legacy);
      ctx.home.write(`${legacy}\n`);
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.source, 'file_legacy');
      assert.equal(j.type, 'api_key');
      assert.equal(ctx.server.requests('me')[0].headers['x-api-key'], legacy);
      const h = await ctx.run(['auth', 'status']);
      assert.match(h.stdout, /^Source: +file \(~\/\.heygen\/credentials — legacy plaintext\)$/m);
      assert.equal(ctx.home.readRaw(), `${legacy}\n`, 'status never rewrites the file');
    });

    test('fresh OAuth: expires_at, refreshable false, scope; beats a stored api_key', async () => {
      const at = ctx.server.addAccessToken('at_SECRETACCESS_fresh_0123456789');
      const expires = isoIn(3600);
      ctx.home.write({
        api_key: KEY,
        oauth: { access_token: at, refresh_token: 'rt_SECRETREFRESH_fresh_0123', expires_at: expires, scope: 'openid profile email', token_type: 'Bearer' },
      });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.type, 'oauth');
      assert.equal(j.source, 'file_json');
      assert.equal(new Date(j.expires_at).getTime(), new Date(expires).getTime());
      assert.match(j.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(j.refreshable, false);
      assert.equal(j.scope, 'openid profile email');
      assert.equal(ctx.server.requests('token').length, 0, 'status never refreshes proactively');

      const h = await ctx.run(['auth', 'status']);
      assert.match(h.stdout, /^Type: +oauth$/m);
      assert.match(h.stdout, /^Expires: +\S+ \(valid\)$/m);
      assert.match(h.stdout, /^Scope: +openid profile email$/m);
    });

    test('expired OAuth with a refresh token: a 401 refreshes, the retry succeeds, the rotated token is persisted', async () => {
      const oldRt = ctx.server.addRefreshToken('rt_SECRETREFRESH_old_0123456789');
      ctx.home.write({
        api_key: KEY,
        oauth: {
          vendor_field: { keep: true },
          access_token: 'at_SECRETACCESS_expired_0123456789',
          refresh_token: oldRt,
          expires_at: isoIn(-3600),
          scope: 'openid profile email',
        },
      });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.type, 'oauth', 'an expired token with a refresh token still beats api_key');
      assert.equal(j.api_error, null);
      assert.equal(j.user.email, 'ada@example.com');
      assert.ok(new Date(j.expires_at).getTime() > Date.now(), 'reports the refreshed expiry');

      const me = ctx.server.requests('me');
      assert.equal(me.length, 2, 'one 401, one retry');
      assert.equal(me[0].headers.authorization, 'Bearer at_SECRETACCESS_expired_0123456789');
      const tokenReqs = ctx.server.requests('token');
      assert.equal(tokenReqs.length, 1);
      assert.deepEqual(tokenReqs[0].body, { grant_type: 'refresh_token', refresh_token: oldRt, client_id: 'test-client' });
      const issued = ctx.server.issued[0];
      assert.equal(me[1].headers.authorization, `Bearer ${issued.access_token}`);

      const file = ctx.home.read();
      assert.equal(file.oauth.access_token, issued.access_token);
      assert.equal(file.oauth.refresh_token, issued.refresh_token, 'the rotated refresh token is persisted');
      assert.deepEqual(file.oauth.vendor_field, { keep: true });
      assert.equal(file.api_key, KEY);
    });

    test('expired OAuth without a refresh token falls back to the api_key', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY, oauth: { access_token: 'at_SECRETACCESS_gone_0123', expires_at: isoIn(-3600) } });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      assert.equal(parseJson(r.stdout).type, 'api_key');
    });

    test('human rows for an expired, refreshable token whose refresh is refused', async () => {
      ctx.home.write({
        oauth: { access_token: 'at_SECRETACCESS_exp2_0123', refresh_token: 'rt_SECRETREFRESH_unknown_0123', expires_at: isoIn(-3600) },
        user: { email: 'cached@example.com' },
      });
      const r = await ctx.run(['auth', 'status']);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stdout, /^Expires: +\S+ \(expired\) · refreshable$/m);
      assert.match(r.stdout, /API check failed: HeyGen rejected the credential/);
      assert.match(r.stdout, /^Account: +cached@example\.com \(cached\)$/m);
    });
  });

  describe('API check failures', () => {
    test('5xx: api_error set, exit 1, cached account in human output', async () => {
      ctx.home.write({ api_key: KEY, user: { email: 'old@example.com' } });
      ctx.server.queue('me', { status: 500, json: { error: 'internal' } });
      const j = await ctx.run(['auth', 'status', '--json']);
      assert.equal(j.code, 1);
      const body = parseJson(j.stdout);
      assert.equal(body.configured, true);
      assert.match(body.api_error, /500/);
      assert.equal(body.user, null);
      assert.equal(body.persisted_user.display_name, 'old@example.com');

      ctx.server.queue('me', { status: 503, body: 'unavailable' });
      const h = await ctx.run(['auth', 'status']);
      assert.equal(h.code, 1);
      assert.match(h.stdout, /API check failed: .*503/);
      assert.match(h.stdout, /^Account: +old@example\.com \(cached\)$/m);
    });

    test('env sources never show a cached account', async () => {
      ctx.home.write({ api_key: KEY, user: { email: 'old@example.com' } });
      ctx.server.queue('me', { status: 500, json: { error: 'internal' } });
      const h = await ctx.run(['auth', 'status'], { env: { HEYGEN_API_KEY: ENV_KEY } });
      assert.equal(h.code, 1);
      assert.match(h.stdout, /API check failed/);
      assert.doesNotMatch(h.stdout, /\(cached\)/);
    });

    test('a 200 that is not JSON is an API error', async () => {
      ctx.home.write({ api_key: KEY });
      ctx.server.queue('me', { status: 200, body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1);
      assert.match(parseJson(r.stdout).api_error, /non-JSON|JSON/);
    });

    test('a truncated body (connection dropped mid-response) is an API error, not a crash', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY });
      ctx.server.queue('me', { status: 200, json: { code: 100, data: { email: 'x@example.com' } }, truncate: true });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1, r.output);
      const j = parseJson(r.stdout);
      assert.equal(j.configured, true);
      assert.equal(typeof j.api_error, 'string');
      assert.equal(j.user, null);
    });

    test('a slow response is waited for', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY });
      ctx.server.queue('me', { fallthrough: true, delayMs: 1500 });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      assert.equal(parseJson(r.stdout).api_error, null);
    });

    test('401 for an API key: UNAUTHENTICATED in api_error, no refresh attempted', async () => {
      ctx.home.write({ api_key: KEY });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1);
      assert.match(parseJson(r.stdout).api_error, /HeyGen rejected the credential/);
      assert.equal(ctx.server.requests('me').length, 1, 'API keys are never retried');
      assert.equal(ctx.server.requests('token').length, 0);
    });
  });

  describe('JSON output stays JSON', () => {
    test(
      '--json is valid JSON when the API error body echoes an x-api-key header',
      async () => {
        ctx.home.write({ api_key: KEY });
        ctx.server.queue('me', (req) => ({ status: 401, json: { message: 'bad key', echo: { 'x-api-key': req.headers['x-api-key'] } } }));
        const r = await ctx.run(['auth', 'status', '--json']);
        assert.equal(r.code, 1);
        const j = parseJson(r.stdout);
        assert.match(j.api_error, /HeyGen rejected the credential/);
        assert.ok(!r.stdout.includes(KEY));
      },
    );

    test(
      'the error JSON of a broken store keeps its code field',
      async () => {
        ctx.home.write('{"api_key": ');
        const r = await ctx.run(['auth', 'status', '--json']);
        assert.equal(parseJson(r.stdout).code, 'INVALID_STORE');
      },
    );
  });

  describe('broken store', () => {
    const cases = {
      'truncated JSON': '{"api_key": "hg_TRUNCATED_0123',
      'api_key is a number': '{"api_key": 42}\n',
      'api_key is empty': '{"api_key": ""}\n',
      'oauth without an access token': '{"oauth": {"scope": "openid"}}\n',
      'oauth is a string': '{"oauth": "nope"}\n',
      'user is an array': '{"api_key": "hg_OKKEY_0123456789", "user": []}\n',
      'JSON root is an array': '[1, 2]\n',
      'legacy text with a space': 'not a key\n',
      'legacy text too short': 'abc\n',
    };
    for (const [name, content] of Object.entries(cases)) {
      test(`${name}: {configured:false, error, hint}, exit 1, file untouched`, async () => {
        ctx.home.write(content);
        const j = await ctx.run(['auth', 'status', '--json']);
        assert.equal(j.code, 1, j.output);
        const body = parseJson(j.stdout);
        assert.equal(body.configured, false);
        assert.equal(typeof body.error, 'string');
        assert.match(body.error, /Credential file is unreadable/);
        assert.ok('hint' in body);
        assert.equal(typeof body.hint, 'string');
        assert.ok(!('offline_engines' in body));
        const h = await ctx.run(['auth', 'status']);
        assert.equal(h.code, 1);
        assert.equal(h.stdout, '');
        assert.match(h.stderr, /Credential file is unreadable/);
        assert.equal(ctx.home.readRaw(), content, 'the file is byte-identical');
        assert.equal(ctx.server.log.length, 0);
      });
    }

    test('an empty file counts as signed out', async () => {
      ctx.home.write('  \n');
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 1);
      const j = parseJson(r.stdout);
      assert.equal(j.configured, false);
      assert.equal(j.fallback, 'local');
    });
  });

  describe('request headers', () => {
    test('API key: x-api-key and X-HeyGen-Client-Source, no Bearer, no X-HeyGen-Source', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const [req] = ctx.server.requests('me');
      assert.equal(req.headers['x-api-key'], KEY);
      assert.equal(req.headers['x-heygen-client-source'], 'hyperframes');
      assert.equal(req.headers.authorization, undefined);
      assert.equal(req.headers['x-heygen-source'], undefined);
    });

    test('OAuth: Bearer and X-HeyGen-Source: cli, no x-api-key', async () => {
      const at = ctx.server.addAccessToken('at_SECRETACCESS_hdr_0123456789');
      ctx.home.write({ oauth: { access_token: at, expires_at: isoIn(3600) } });
      const r = await ctx.run(['auth', 'status', '--json']);
      assert.equal(r.code, 0, r.output);
      const [req] = ctx.server.requests('me');
      assert.equal(req.headers.authorization, `Bearer ${at}`);
      assert.equal(req.headers['x-heygen-source'], 'cli');
      assert.equal(req.headers['x-heygen-client-source'], 'hyperframes');
      assert.equal(req.headers['x-api-key'], undefined);
    });

    test('HEYGEN_API_URL with trailing slashes is used without them', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: KEY });
      const r = await ctx.run(['auth', 'status', '--json'], { env: { HEYGEN_API_URL: `${ctx.server.url}//` } });
      assert.equal(r.code, 0, r.output);
      assert.equal(ctx.server.requests('me').length, 1);
    });
  });
});
