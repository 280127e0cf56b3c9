'use strict';
// `hyperframes auth login --api-key`: where the key comes from, shape checks, the verified write
// (modes, unknown keys kept), rollback on 401 and "saved but unverified" on 5xx.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { useContract, fileMode, isoIn, parseJson } = require('./support/setup.js');

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

    test('keeps the oauth block and unknown keys at root, oauth and user level', async () => {
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
      const file = ctx.home.read();
      assert.equal(file.api_key, KEY);
      assert.deepEqual(file.zz_root_unknown, prior.zz_root_unknown);
      assert.equal(file.aa_root_unknown, 'text');
      assert.deepEqual(file.oauth, oauth, 'the oauth block is kept as it was');
      assert.equal(file.user.team_id, 'team-123');
      assert.deepEqual(file.user.prefs, { theme: 'dark' });
      assert.equal(file.user.email, 'ada@example.com', 'the user block is replaced by the new identity');
      assert.equal(file.user.username, 'ada_l');
    });

    test('key order: unknown keys first, then api_key, oauth, user (same inside blocks)', async () => {
      ctx.server.addApiKey(KEY);
      ctx.home.write({
        user: { email: 'old@example.com', team_id: 't' },
        oauth: { token_type: 'Bearer', access_token: 'at_SECRETACCESS_order_0123', vendor: 1, expires_at: isoIn(3600) },
        api_key: OLD_KEY,
        foreign: 1,
      });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 0, r.output);
      const file = ctx.home.read();
      assert.deepEqual(Object.keys(file), ['foreign', 'api_key', 'oauth', 'user']);
      assert.deepEqual(Object.keys(file.oauth), ['vendor', 'access_token', 'expires_at', 'token_type']);
      assert.deepEqual(Object.keys(file.user), ['team_id', 'email', 'first_name', 'last_name', 'username']);
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
    test('401 with a previous key: rolled back to the previous credential', async () => {
      const prior = { keep_me: { x: 1 }, api_key: OLD_KEY, user: { email: 'old@example.com', team_id: 't-1' } };
      ctx.home.write(prior);
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen rejected the API key/);
      assert.match(r.stderr, /Rolled back to the previous credential\./);
      assert.match(r.stderr, /auth login --api-key/, 're-run hint');
      assert.deepEqual(ctx.home.read(), prior);
      assert.equal(ctx.server.requests('me').length, 1);
    });

    test('401 on a first login: the rejected key is removed and no file remains', async () => {
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen rejected the API key/);
      assert.match(r.stderr, /Removed the rejected credential\./);
      assert.equal(ctx.home.exists(), false);
    });

    test(
      'the rollback notice survives a 401 body that echoes the x-api-key header',
      async () => {
        ctx.home.write({ api_key: OLD_KEY });
        ctx.server.queue('me', (req) => ({ status: 401, body: `rejected. x-api-key: ${req.headers['x-api-key']}` }));
        const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
        assert.equal(r.code, 1);
        assert.equal(ctx.home.read().api_key, OLD_KEY, 'the rollback itself happened');
        assert.ok(!r.output.includes(KEY));
        assert.match(r.stderr, /Rolled back to the previous credential\./);
      },
    );

    test('401 when the file held only foreign data: the foreign data stays', async () => {
      ctx.home.write({ foreign: { v: 2 } });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /HeyGen rejected the API key/);
      assert.deepEqual(ctx.home.read(), { foreign: { v: 2 } });
    });

    test('5xx: the new key stays on disk and the message says it could not be verified', async () => {
      ctx.home.write({ api_key: OLD_KEY });
      ctx.server.queue('me', { status: 503, json: { error: 'maintenance' } });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /503/);
      assert.match(r.stderr, /could not be verified/);
      assert.equal(ctx.home.read().api_key, KEY);
    });

    test('network failure: the new key stays on disk', async () => {
      ctx.server.queue('me', { destroy: true });
      const r = await ctx.run(['auth', 'login', '--api-key', KEY]);
      assert.equal(r.code, 1, r.output);
      assert.match(r.stderr, /could not be verified/);
      assert.equal(ctx.home.read().api_key, KEY);
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
