'use strict';
// `hyperframes auth login --api-key`: where the key comes from, shape checks, the verified write
// (modes, unknown keys kept), nothing written unless HeyGen answers 2xx (any HTTP error or an
// interrupted check leaves the file as it was), "saved but unverified" only when HeyGen is
// unreachable, and a verified key replacing a stored OAuth session.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { useContract, fileMode, isoIn, parseJson, assertNoSecrets } = require('./support/setup.js');

const KEY = 'hg_NEWKEY_0123456789';
const OLD_KEY = 'hg_OLDKEY_0123456789';

describe('auth login --api-key', () => {
  const ctx = useContract();

  describe('where the key comes from', () => {
    test('inline value: saved with the user block, success line names the account', async () => {
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /^✓ API key saved\. Authenticated as ada@example\.com\.$/m);
      const file = ctx.home.read();
      assert.equal(file.api_key, KEY);
      assert.deepEqual(file.user, { email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', username: 'ada_l' });
      const [req] = ctx.server.requests('me');
      assert.equal(req.headers['x-api-key'], KEY);
      assert.equal(req.headers['x-heygen-client-source'], 'hyperframes');
    });

    test('inline value with surrounding spaces is trimmed', async () => {
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', `--api-key=  ${KEY}  `]);
      assert.equal(r.code, 0, r.output);
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('bare flag reads a piped stdin to EOF and trims it', async () => {
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', '--api-key'], { input: `  ${KEY}\n` });
      assert.equal(r.code, 0, r.output);
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('on a terminal with no value, a hidden prompt asks for the key (not echoed)', async () => {
      ctx.server.addApiKey(KEY);
      let typed = false;
      const r = await ctx.run(['auth', 'login', '--api-key'], {
        pty: true,
        onData: (text, child) => {
          if (!typed && /Enter HeyGen API key/.test(text)) {
            typed = true;
            child.stdin.write(`${KEY}\n`);
          }
        },
      });
      assert.ok(typed, r.output);
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /API key saved\. Authenticated as ada@example\.com\./);
      assert.ok(!r.stdout.includes(KEY), 'the typed key is not echoed');
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('the hidden prompt asks again after a too-short key', async () => {
      ctx.server.addApiKey(KEY);
      let step = 0;
      const r = await ctx.run(['auth', 'login', '--api-key'], {
        pty: true,
        onData: (text, child) => {
          const prompts = (text.match(/Enter HeyGen API key/g) || []).length;
          if (prompts > step) {
            step = prompts;
            child.stdin.write(step === 1 ? 'short\n' : `${KEY}\n`);
          }
        },
      });
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /API key looks too short \(got 5 chars\)\./);
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('the file is written as JSON with a 2-space indent and a trailing newline', async () => {
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      const raw = ctx.home.readRaw();
      assert.ok(raw.endsWith('}\n'));
      assert.equal(raw, `${JSON.stringify(JSON.parse(raw), null, 2)}\n`);
      assert.ok(!fs.existsSync(`${ctx.home.configDir}/credentials.json`), 'no .json suffix');
    });

    test('--device and --api-key together are refused', async () => {
      const r = await ctx.run(['auth', 'login', '--device', '--api-key', KEY]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Choose either --device or --api-key, not both\./);
      assert.equal(ctx.home.exists(), false);
      assert.equal(ctx.server.log.length, 0);
    });
  });

  describe('shape checks (store unchanged, no request)', () => {
    const prior = { api_key: OLD_KEY, user: { email: 'old@example.com' } };
    const cases = [
      ['empty stdin', ['--api-key'], '', /No API key provided\./],
      ['whitespace-only stdin', ['--api-key'], '  \n\n', /No API key provided\./],
      ['empty inline value (falls back to the empty stdin)', ['--api-key='], '', /No API key provided\./],
      ['too short inline', ['--api-key', 'abc12'], undefined, /API key looks too short \(got 5 chars\)\./],
      ['too short on stdin', ['--api-key'], 'abcdefg\n', /API key looks too short \(got 7 chars\)\./],
      ['control character inline', ['--api-key', 'hg_BAD\u0001KEY_0123456789'], undefined, /API key must not contain newline or control characters\./],
      ['newline inside the piped key', ['--api-key'], 'hg_BAD_0123\nKEY_456789\n', /API key must not contain newline or control characters\./],
    ];
    for (const [name, flags, input, message] of cases) {
      test(name, async () => {
        const before = ctx.home.write(prior);
        const r = await ctx.run(['auth', 'login', ...flags], { input });
        assert.equal(r.code, 1, r.output);
        assert.match(r.stderr, message);
        assert.equal(ctx.home.readRaw(), before, 'the store is unchanged');
        assert.equal(ctx.server.log.length, 0, 'nothing is sent');
      });
    }

    test('no shape check beyond length and control characters', async () => {
      const odd = 'x'.repeat(8);
      ctx.server.addApiKey(odd);
      const r = await ctx.run(['auth', 'login', '--api-key', odd]);
      assert.equal(r.code, 0, r.output);
      assert.equal(ctx.home.read().api_key, odd);
    });
  });

  describe('writing', () => {
    test('file 0600 in a 0700 directory, also when the directory existed with looser modes', async () => {
      ctx.server.addApiKey(KEY);
      fs.mkdirSync(ctx.home.configDir, { mode: 0o755 });
      fs.chmodSync(ctx.home.configDir, 0o755);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.equal(fileMode(ctx.home.credPath), 0o600);
      assert.equal(fileMode(ctx.home.configDir), 0o700);
      const leftovers = fs.readdirSync(ctx.home.configDir).filter((f) => f.endsWith('.tmp'));
      assert.deepEqual(leftovers, [], 'no temp files left behind');
    });

    test('a fresh directory is created with 0700', async () => {
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.equal(fileMode(ctx.home.configDir), 0o700);
      assert.equal(fileMode(ctx.home.credPath), 0o600);
    });

    test('an existing file with loose modes is rewritten as 0600', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ api_key: OLD_KEY }, { fileMode: 0o644, dirMode: 0o755 });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.equal(fileMode(ctx.home.credPath), 0o600);
      assert.equal(fileMode(ctx.home.configDir), 0o700);
    });

    test('keeps unknown keys at root and user level; a stored OAuth session is signed out (revoked) so the key is used', async () => {
      ctx.server.addApiKey(KEY);
      const oauth = {
        vendor_oauth: { nested: [1, 2, { deep: 'x' }] },
        access_token: 'at_SECRETACCESS_keep_0123456789',
        refresh_token: 'rt_SECRETREFRESH_keep_0123456789',
        expires_at: isoIn(3600),
        scope: 'openid profile email',
        token_type: 'Bearer',
      };
      const prior = {
        zz_root_unknown: { a: 1, b: [true, null, 'x'] },
        aa_root_unknown: 'text',
        api_key: OLD_KEY,
        oauth,
        user: { team_id: 'team-123', prefs: { theme: 'dark' }, email: 'old@example.com' },
      };
      ctx.home.write(prior);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.match(r.stderr, /The stored OAuth session was signed out so that this API key is the credential in use/);
      const file = ctx.home.read();
      assert.equal(file.api_key, KEY);
      assert.deepEqual(file.zz_root_unknown, prior.zz_root_unknown);
      assert.equal(file.aa_root_unknown, 'text');
      assert.equal(file.oauth, undefined, 'the OAuth session no longer shadows the new key');
      assert.equal(file.user.team_id, 'team-123');
      assert.deepEqual(file.user.prefs, { theme: 'dark' });
      assert.equal(file.user.email, 'ada@example.com', 'the user block is replaced by the new identity');
      assert.equal(file.user.username, 'ada_l');
      const revoked = ctx.server.requests('revoke').map((q) => q.body.token);
      assert.deepEqual(revoked, [oauth.refresh_token, oauth.access_token], 'refresh token first, then access token');
      assert.ok(!r.output.includes(oauth.access_token) && !r.output.includes(KEY));
    });

    test('key order: unknown keys first, then api_key, oauth, user (same inside blocks)', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({ user: { email: 'old@example.com', team_id: 't' }, api_key: OLD_KEY, foreign: 1 });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      const file = ctx.home.read();
      assert.deepEqual(Object.keys(file), ['foreign', 'api_key', 'user']);
      assert.deepEqual(Object.keys(file.user), ['team_id', 'email', 'first_name', 'last_name', 'username']);
      // An unverified key (HeyGen unreachable) is written beside unknown keys, in the same order.
      ctx.home.write({ api_key: OLD_KEY, foreign: 1 });
      ctx.server.queue('me', { destroy: true });
      assert.equal((await ctx.run(['auth', 'login', '--api-key', KEY])).code, 1);
      const unverified = ctx.home.read();
      assert.deepEqual(Object.keys(unverified), ['foreign', 'api_key']);
      assert.equal(unverified.api_key, KEY);
    });

    test('a legacy plaintext file is upgraded to JSON', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write(`${OLD_KEY}\n`);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('an identity-less probe clears a stale user block', async () => {
      ctx.server.addApiKey(KEY);
      ctx.server.user = { billing_type: 'free' };
      ctx.home.write({ api_key: OLD_KEY, user: { email: 'stale@example.com' } });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /Authenticated as \(unknown user\)\./);
      const file = ctx.home.read();
      assert.equal(file.api_key, KEY);
      assert.equal(file.user, undefined, 'the stale identity is gone');
    });

    test('an env key is reported as still taking precedence', async () => {
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY], { env: { HEYGEN_API_KEY: 'hg_ENVKEY_0123456789' } });
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /HEYGEN_API_KEY is set and takes precedence/);
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('a corrupt file is refused before anything is sent, and left byte-identical', async () => {
      ctx.server.addApiKey(KEY);
      const content = '{"api_key": ';
      ctx.home.write(content);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /Credential file is unreadable/);
      assert.equal(ctx.home.readRaw(), content);
      assert.equal(ctx.server.log.length, 0);
    });
  });

  describe('rejection and failures', () => {
    test('401 with a previous key: nothing is written, the previous credential is unchanged', async () => {
      const prior = { keep_me: { x: 1 }, api_key: OLD_KEY, user: { email: 'old@example.com', team_id: 't-1' } };
      const before = ctx.home.write(prior);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen rejected the API key/);
      assert.match(r.stderr, /Nothing was saved; the previous credential is unchanged\./);
      assert.match(r.stderr, /auth login --api-key/, 're-run hint');
      assert.equal(ctx.home.readRaw(), before, 'byte-identical');
      assert.equal(ctx.server.requests('me').length, 1);
    });

    test('401 on a first login: no file is created', async () => {
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen rejected the API key/);
      assert.match(r.stderr, /Nothing was saved\./);
      assert.equal(ctx.home.exists(), false);
    });

    test('a 401 body that echoes the x-api-key header is scrubbed; the file is untouched', async () => {
      const before = ctx.home.write({ api_key: OLD_KEY });
      ctx.server.queue('me', (req) => ({ status: 401, body: `rejected. x-api-key: ${req.headers['x-api-key']}` }));
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1);
      assert.equal(ctx.home.readRaw(), before);
      assert.ok(!r.output.includes(KEY));
      assert.match(r.stderr, /the previous credential is unchanged/);
    });

    test('401 when the file held only foreign data: the foreign data stays', async () => {
      ctx.home.write({ foreign: { v: 2 } });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen rejected the API key/);
      assert.deepEqual(ctx.home.read(), { foreign: { v: 2 } });
    });

    // Any HTTP answer but 2xx keeps the previous state and says what the API answered.
    const answers = [
      ['400', { status: 400, json: { error: 'bad request' } }, /HeyGen API error \(400\)/],
      ['402', { status: 402, json: { error: 'plan_upgrade_required' } }, /HeyGen API error \(402\).*plan_upgrade_required/],
      ['403', { status: 403, json: { error: 'forbidden' } }, /HeyGen API error \(403\)/],
      ['429', { status: 429, headers: { 'retry-after': '5' }, json: { error: 'slow down' } }, /HeyGen API error \(429\)/],
      ['431', { status: 431, body: '' }, /HeyGen API error \(431\).*Request Header Fields Too Large/],
      ['500', { status: 500, body: 'boom' }, /HeyGen API error \(500\): boom/],
      ['502', { status: 502, body: '<html>bad gateway</html>' }, /HeyGen API error \(502\)/],
      ['503', { status: 503, json: { error: 'maintenance' } }, /HeyGen API error \(503\).*maintenance/],
      ['200 with a non-JSON body', { status: 200, body: '<html>captive portal</html>' }, /non-JSON/],
    ];
    for (const [name, spec, said] of answers) {
      test(`HTTP ${name}: nothing is written, the message says what HeyGen answered`, async () => {
        const before = ctx.home.write({ api_key: OLD_KEY, user: { email: 'old@example.com' } });
        ctx.server.addApiKey(KEY);
        ctx.server.queue('me', spec);
        const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
        assert.equal(r.code, 1, r.output);
        assert.match(r.stderr, /HeyGen did not accept the API key/);
        assert.match(r.stderr, said);
        assert.match(r.stderr, /Nothing was saved; the previous credential is unchanged\./);
        assert.ok(!/could not be verified|saved but/.test(r.output), r.output);
        assert.equal(ctx.home.readRaw(), before, 'byte-identical');
        assert.equal(ctx.server.requests('me').length, 1, 'one check, no retry');
      });
    }

    test('HTTP 503 whose body breaks off: still an answer from HeyGen, nothing is written', async () => {
      const before = ctx.home.write({ api_key: OLD_KEY });
      ctx.server.queue('me', { status: 503, body: 'x'.repeat(2000), truncate: true });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen API error \(503\)/);
      assert.match(r.stderr, /Nothing was saved; the previous credential is unchanged\./);
      assert.equal(ctx.home.readRaw(), before);
    });

    test('HTTP 5xx on a first login: no file is created', async () => {
      ctx.server.queue('me', { status: 503, json: { error: 'maintenance' } });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /Nothing was saved\./);
      assert.equal(ctx.home.exists(), false);
    });

    test('a 10 MB pasted key is refused before anything is sent; the working key stays', async () => {
      const before = ctx.home.write({ api_key: OLD_KEY });
      const huge = 'k'.repeat(10 * 1024 * 1024);
      const r = await ctx.run(['auth', 'login', '--api-key'], { input: `${huge}\n` });
      assert.equal(r.code, 1, r.output.slice(0, 2000));
      assert.match(r.stderr, /API key looks too long \(more than 1024 chars/);
      assert.ok(r.output.length < 2000, 'the key is not echoed');
      assert.equal(ctx.home.readRaw(), before);
      assert.equal(ctx.server.log.length, 0);
    });

    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT']) {
      test(`${signal} during a stalled verification leaves the previous file byte-identical`, async () => {
        const before = ctx.home.write({ api_key: OLD_KEY, user: { email: 'old@example.com' } });
        ctx.server.queue('me', { stall: true });
        let child;
        const run = ctx.run(['auth', 'login', '--api-key', KEY], { onSpawn: (c) => (child = c) });
        for (let i = 0; i < 600 && ctx.server.requests('me').length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(ctx.server.requests('me').length, 1, 'the verification is in flight');
        child.kill(signal);
        const r = await run;
        assert.notEqual(r.code, 0, r.output);
        assert.equal(ctx.home.readRaw(), before, 'the unchecked key was never written');
        assert.deepEqual(fs.readdirSync(ctx.home.configDir).filter((f) => f.endsWith('.tmp')), []);
      });
    }

    test('network failure: the key is saved unverified (as documented) when no verified credential is stored', async () => {
      // A legacy or unverified key (no identity stored with it) may be replaced by another unverified one.
      ctx.home.write({ api_key: OLD_KEY, user: { team_id: 't' } });
      ctx.server.queue('me', { destroy: true });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /The API key was saved but could not be verified/);
      assert.match(r.stderr, /unreachable/);
      const file = ctx.home.read();
      assert.equal(file.api_key, KEY);
      assert.deepEqual(file.user, { team_id: 't' });
    });

    const verifiedStores = {
      'a verified API key': { api_key: OLD_KEY, user: { email: 'old@example.com', team_id: 't' } },
      'an OAuth session': { oauth: { access_token: 'at_SECRETACCESS_net_0123456789', expires_at: isoIn(3600) } },
    };
    for (const [name, stored] of Object.entries(verifiedStores)) {
      for (const [how, spec] of [['a dropped connection', { destroy: true }], ['a server that never answers', { stall: true }]]) {
        test(`network failure (${how}) with ${name} stored: nothing is saved, the verified credential stays`, async () => {
          const before = ctx.home.write(stored);
          ctx.server.queue('me', spec);
          const r = await ctx.run(['auth', 'login', '--api-key', KEY], { timeoutMs: 120_000 });
          assert.equal(r.code, 1, r.output);
          assert.match(r.stderr, /could not be verified.*Nothing was saved; the verified credential already stored stays in use/);
          assert.equal(ctx.home.readRaw(), before, 'the file is exactly as it was');
          assert.equal(ctx.server.requests('revoke').length, 0);
          assertNoSecrets(r.output, [KEY]);
        });
      }
    }

    test('with an OAuth session stored, the new key is the one status and token use afterwards', async () => {
      const AT = ctx.server.addAccessToken('at_SECRETACCESS_inuse_0123456789');
      ctx.home.write({ oauth: { access_token: AT, refresh_token: 'rt_SECRETREFRESH_inuse_0123456789', expires_at: isoIn(3600) } });
      ctx.server.addApiKey(KEY);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      assert.match(r.stdout, /API key saved\. Authenticated as ada@example\.com\./);
      assert.match(r.stderr, /OAuth session was signed out/);
      const s = parseJson((await ctx.run(['auth', 'status', '--json'])).stdout);
      assert.equal(s.type, 'api_key');
      const t = await ctx.run(['auth', 'token']);
      assert.equal(t.stdout.trim(), KEY);
    });

    test('after a successful login, status reports the stored key', async () => {
      ctx.server.addApiKey(KEY);
      assert.equal((await ctx.run(['auth', 'login', '--api-key', KEY])).code, 0);
      const s = await ctx.run(['auth', 'status', '--json']);
      assert.equal(s.code, 0, s.output);
      const j = parseJson(s.stdout);
      assert.equal(j.source, 'file_json');
      assert.equal(j.persisted_user.display_name, 'ada@example.com');
    });
  });
});

describe('a symlinked credentials file', () => {
  const ctx = useContract();

  function linkCredentials() {
    const targetDir = `${ctx.home.dir}/dotfiles`;
    fs.mkdirSync(targetDir, { recursive: true });
    fs.mkdirSync(ctx.home.configDir, { recursive: true, mode: 0o700 });
    const target = `${targetDir}/heygen-credentials`;
    fs.writeFileSync(target, `${JSON.stringify({ api_key: OLD_KEY, foreign: 1 }, null, 2)}\n`, { mode: 0o644 });
    fs.symlinkSync('../dotfiles/heygen-credentials', ctx.home.credPath);
    return target;
  }

  test('login writes through the link: the link stays, its target holds the new key (0600)', async () => {
    const target = linkCredentials();
    ctx.server.addApiKey(KEY);
    const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
    assert.equal(r.code, 0, r.output);
    assert.ok(fs.lstatSync(ctx.home.credPath).isSymbolicLink(), 'still a link');
    assert.equal(fs.readlinkSync(ctx.home.credPath), '../dotfiles/heygen-credentials');
    const file = JSON.parse(fs.readFileSync(target, 'utf8'));
    assert.equal(file.api_key, KEY);
    assert.equal(file.foreign, 1);
    assert.equal(fileMode(target), 0o600);
    assert.deepEqual(fs.readdirSync(`${ctx.home.dir}/dotfiles`), ['heygen-credentials'], 'no temp file left');
    const s = parseJson((await ctx.run(['auth', 'status', '--json'])).stdout);
    assert.equal(s.type, 'api_key');
  });

  test('logout removes the secret the link points to, and a later login writes through the link again', async () => {
    const target = linkCredentials();
    const out = await ctx.run(['auth', 'logout', '--yes']);
    assert.equal(out.code, 0, out.output);
    assert.equal(fs.existsSync(target), false, 'the stored key is gone');
    ctx.server.addApiKey(KEY);
    const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
    assert.equal(r.code, 0, r.output);
    assert.ok(fs.lstatSync(ctx.home.credPath).isSymbolicLink());
    assert.equal(JSON.parse(fs.readFileSync(target, 'utf8')).api_key, KEY);
  });
});
