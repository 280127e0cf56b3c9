'use strict';
// The JS API (`require('hyperframes')` → lib/index.js): same core as the CLI, errors as Errors with
// `.code` and `.hint`. The API reads the environment at call time, so each test sets process.env
// (and restores it); tests in this file run one after another.

const { describe, test, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer } = require('./support/contract-server.js');
const { makeHome } = require('./support/cli.js');
const { isoIn } = require('./support/setup.js');

const api = require('../lib/index.js');

const KEY = 'hg_JSAPIKEY_0123456789';
const BAD = 'hg_JSBADKEY_0123456789';
const AT = 'at_SECRETACCESS_js_0123456789';
const RT = 'rt_SECRETREFRESH_js_0123456789';

// Variables that change what the API does; all are cleared for each test.
const CLEARED = /^(HEYGEN_|HYPERFRAMES_|HF_|SSH_|ORT_|CI$|GITHUB_ACTIONS$|GITLAB_CI$|CIRCLECI$|BUILDKITE$|TRAVIS$|CONTINUOUS_INTEGRATION$|JENKINS_URL$|CLAUDECODE$|CURSOR_AGENT$|CODEX_SANDBOX$|GEMINI_CLI$|BROWSER$|CODESPACES$|GITHUB_CODESPACES$|REMOTE_CONTAINERS$|GITPOD_WORKSPACE_ID$|container$|NO_COLOR$|USERPROFILE$|HOME$)/;

describe('JS API', () => {
  let server;
  let home;
  let saved;

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  beforeEach(() => {
    server.reset();
    home = makeHome();
    saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (CLEARED.test(k)) delete process.env[k];
    Object.assign(process.env, {
      HOME: home.dir,
      HEYGEN_CONFIG_DIR: home.configDir,
      HYPERFRAMES_MODELS_DIR: home.modelsDir,
      HEYGEN_API_URL: server.url,
      HYPERFRAMES_OAUTH_AUTHORIZE_URL: `${server.url}/oauth/authorize`,
      HYPERFRAMES_OAUTH_TOKEN_URL: `${server.url}/oauth/token`,
      HYPERFRAMES_OAUTH_REVOKE_URL: `${server.url}/oauth/revoke`,
      HYPERFRAMES_OAUTH_DEVICE_URL: `${server.url}/oauth/device_authorization`,
      HYPERFRAMES_OAUTH_CLIENT_ID: 'test-client',
    });
  });

  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    home.cleanup();
  });

  async function rejects(promise) {
    try {
      await promise;
    } catch (e) {
      return e;
    }
    assert.fail('expected a rejection');
  }

  test('exports the documented functions', () => {
    for (const name of ['authStatus', 'loginWithApiKey', 'resolveCredential', 'logout', 'refreshAuth', 'authToken', 'doctor']) {
      assert.equal(typeof api[name], 'function', name);
    }
  });

  describe('authStatus()', () => {
    test('signed out: the unconfigured report', async () => {
      const s = await api.authStatus();
      assert.equal(s.configured, false);
      assert.equal(typeof s.interactive, 'boolean');
      assert.equal(s.recommended_action, 'npx hyperframes auth login');
      assert.equal(s.fallback, 'local');
      assert.deepEqual(s.offline_engines.map((e) => e.capability), ['voice', 'music']);
    });

    test('CI=true is not interactive', async () => {
      process.env.CI = 'true';
      const s = await api.authStatus();
      assert.equal(s.interactive, false);
    });

    test('a stored key: configured, verified, persisted_user', async () => {
      server.addApiKey(KEY);
      home.write({ api_key: KEY, user: { email: 'me@example.com' } });
      const s = await api.authStatus();
      assert.equal(s.configured, true);
      assert.equal(s.source, 'file_json');
      assert.equal(s.type, 'api_key');
      assert.equal(s.api_error, null);
      assert.equal(s.user.email, 'ada@example.com');
      assert.equal(s.persisted_user.display_name, 'me@example.com');
      assert.ok(!JSON.stringify(s).includes(KEY));
    });

    test('a broken store resolves (does not reject) to {configured:false, error, hint}', async () => {
      home.write('{"api_key": ');
      const s = await api.authStatus();
      assert.equal(s.configured, false);
      assert.match(s.error, /Credential file is unreadable/);
      assert.equal(typeof s.hint, 'string');
    });
  });

  describe('loginWithApiKey()', () => {
    test('success: identity and the file written', async () => {
      server.addApiKey(KEY);
      const r = await api.loginWithApiKey(KEY);
      assert.equal(r.identity, 'ada@example.com');
      assert.equal(r.identityError, null);
      assert.equal(r.inKeyring, false);
      assert.deepEqual(r.warnings, []);
      const file = home.read();
      assert.equal(file.api_key, KEY);
      assert.equal(file.user.email, 'ada@example.com');
      assert.equal(server.requests('me')[0].headers['x-api-key'], KEY);
    });

    test('rejection: UNAUTHENTICATED Error with a hint, no secret in the message, nothing written', async () => {
      home.write({ api_key: KEY });
      server.queue('me', (req) => ({ status: 401, body: `key ${req.headers['x-api-key']} is not valid` }));
      const e = await rejects(api.loginWithApiKey(BAD));
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'HyperframesError');
      assert.equal(e.code, 'UNAUTHENTICATED');
      assert.equal(typeof e.hint, 'string');
      assert.match(e.hint, /auth login --api-key/);
      assert.match(e.message, /HeyGen rejected the API key/);
      assert.match(e.message, /Nothing was saved; the previous credential is unchanged\./);
      assert.ok(!e.message.includes(BAD), `message leaks the key: ${e.message}`);
      assert.ok(!String(e.stack).includes(BAD), 'stack leaks the key');
      assert.equal(home.read().api_key, KEY);
    });

    test('a too-short key is a USAGE error and nothing is sent', async () => {
      const e = await rejects(api.loginWithApiKey('abc'));
      assert.equal(e.code, 'USAGE');
      assert.match(e.message, /API key looks too short \(got 3 chars\)\./);
      assert.equal(server.log.length, 0);
      assert.equal(home.exists(), false);
    });
  });

  describe('resolveCredential()', () => {
    test('null when signed out', async () => {
      assert.equal(await api.resolveCredential(), null);
    });

    test('file api_key: source and type, never the secret', async () => {
      home.write({ api_key: KEY });
      const c = await api.resolveCredential();
      assert.equal(c.source, 'file_json');
      assert.equal(c.type, 'api_key');
      assert.equal(c.refreshable, false);
      assert.ok(!JSON.stringify(c).includes(KEY));
      for (const k of ['secret', 'token', 'key', 'api_key', 'access_token']) assert.ok(!(k in c), `no ${k} field`);
      assert.equal(server.log.length, 0, 'resolving makes no request');
    });

    test('env beats file; HYPERFRAMES_API_KEY is the alias', async () => {
      home.write({ api_key: KEY });
      process.env.HYPERFRAMES_API_KEY = 'hg_ALIASKEY_0123456789';
      assert.equal((await api.resolveCredential()).source, 'env_alias');
      process.env.HEYGEN_API_KEY = 'hg_PRIMARYKEY_0123456789';
      const c = await api.resolveCredential();
      assert.equal(c.source, 'env');
      assert.ok(!JSON.stringify(c).includes('hg_PRIMARYKEY_0123456789'));
    });

    test('expired OAuth with a refresh token: oauth, expired, refreshable', async () => {
      home.write({ api_key: KEY, oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(-600) } });
      const c = await api.resolveCredential();
      assert.equal(c.type, 'oauth');
      assert.equal(c.expired, true);
      assert.equal(c.refreshable, true);
      assert.ok(!JSON.stringify(c).includes(AT) && !JSON.stringify(c).includes(RT));
    });

    test('a legacy file: source file_legacy', async () => {
      home.write(`${KEY}\n`);
      assert.equal((await api.resolveCredential()).source, 'file_legacy');
    });

    test('a broken store rejects with INVALID_STORE and a hint', async () => {
      home.write('[]');
      const e = await rejects(api.resolveCredential());
      assert.equal(e.code, 'INVALID_STORE');
      assert.equal(typeof e.hint, 'string');
    });

    test('control characters in HEYGEN_API_KEY reject with INVALID_STORE', async () => {
      process.env.HEYGEN_API_KEY = 'hg_CTRLKEY\u0001_0123456789';
      const e = await rejects(api.resolveCredential());
      assert.equal(e.code, 'INVALID_STORE');
      assert.ok(!e.message.includes('hg_CTRLKEY'));
    });
  });

  describe('logout()', () => {
    test('revokes (refresh then access) and removes the file', async () => {
      home.write({ api_key: KEY, oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
      const r = await api.logout();
      assert.equal(r.keptApiKey, false);
      assert.equal(typeof r.removed, 'string');
      assert.ok(r.removed.endsWith('credentials'));
      assert.ok(!r.removed.includes(home.dir), 'the home directory is shown as ~');
      assert.deepEqual(r.envStillSet, []);
      assert.equal(home.exists(), false);
      assert.deepEqual(server.requests('revoke').map((q) => q.body.token_type_hint), ['refresh_token', 'access_token']);
    });

    test('{keepApiKey: true} keeps the key and unknown data', async () => {
      home.write({ foreign: 1, api_key: KEY, oauth: { access_token: AT, expires_at: isoIn(600) } });
      const r = await api.logout({ keepApiKey: true });
      assert.equal(r.keptApiKey, true);
      assert.deepEqual(home.read(), { foreign: 1, api_key: KEY });
    });

    test('reports env keys that stay in effect', async () => {
      process.env.HEYGEN_API_KEY = 'hg_ENVKEY_0123456789';
      const r = await api.logout();
      assert.deepEqual(r.envStillSet, ['HEYGEN_API_KEY']);
    });
  });

  describe('refreshAuth()', () => {
    test('refreshes and persists', async () => {
      server.addRefreshToken(RT);
      home.write({ oauth: { vendor: 'v', access_token: AT, refresh_token: RT, expires_at: isoIn(-600) } });
      const r = await api.refreshAuth();
      assert.ok(new Date(r.expiresAt).getTime() > Date.now());
      const file = home.read();
      assert.equal(file.oauth.access_token, server.issued[0].access_token);
      assert.equal(file.oauth.refresh_token, server.issued[0].refresh_token);
      assert.equal(file.oauth.vendor, 'v');
    });

    test('without a refresh token: REFRESH_FAILED with a hint', async () => {
      home.write({ api_key: KEY });
      const e = await rejects(api.refreshAuth());
      assert.equal(e.code, 'REFRESH_FAILED');
      assert.match(e.message, /No OAuth refresh token to use/);
      assert.match(e.hint, /auth login/);
    });

    test('refused refresh: REFRESH_FAILED, no secret in the message', async () => {
      home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(600) } });
      const e = await rejects(api.refreshAuth());
      assert.equal(e.code, 'REFRESH_FAILED');
      assert.ok(!e.message.includes(RT), e.message);
      assert.match(e.hint, /auth login/);
    });
  });

  describe('authToken()', () => {
    test('returns the credential on purpose', async () => {
      home.write({ api_key: KEY });
      assert.deepEqual(await api.authToken(), { token: KEY, type: 'api_key', source: 'file_json' });
    });

    test('signed out: NOT_CONFIGURED', async () => {
      const e = await rejects(api.authToken());
      assert.equal(e.code, 'NOT_CONFIGURED');
      assert.equal(typeof e.hint, 'string');
    });
  });

  describe('doctor()', () => {
    // An ONNX Runtime path under HOME: doctor reports it, and must show it as $HOME/….
    function ortUnderHome() {
      const real = path.join(__dirname, '..', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
      const link = path.join(home.dir, 'ort', 'libonnxruntime.so.1');
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(real, link);
      return link;
    }

    test('shape {ok, platform, arch, checks:[{name, ok, detail, hint?}]}, home paths as $HOME', async () => {
      if (process.platform === 'linux' && process.arch === 'x64') process.env.ORT_DYLIB_PATH = ortUnderHome();
      const d = await api.doctor();
      assert.equal(typeof d.ok, 'boolean');
      assert.equal(d.platform, process.platform);
      assert.equal(d.arch, process.arch);
      assert.ok(Array.isArray(d.checks) && d.checks.length > 0);
      for (const c of d.checks) {
        assert.equal(typeof c.name, 'string');
        assert.equal(typeof c.ok, 'boolean');
        assert.equal(typeof c.detail, 'string');
        if ('hint' in c) assert.equal(typeof c.hint, 'string', `${c.name} hint`);
      }
      const text = JSON.stringify(d);
      assert.ok(!text.includes(home.dir), `the home directory is redacted:\n${text}`);
      if (process.env.ORT_DYLIB_PATH) {
        const ort = d.checks.find((c) => c.name === 'ONNX Runtime');
        assert.match(ort.detail, /\$HOME\/ort\/libonnxruntime\.so\.1/);
      }
    });

    test(
      'the config and models dirs are shown as $HOME/… too',
      async () => {
        const d = await api.doctor();
        const cfg = d.checks.find((c) => c.name === 'Config dir');
        assert.match(cfg.detail, /^\$HOME\/\.heygen/);
      },
    );

    test(
      'the Node.js row reports the Node version it runs under',
      async () => {
        const d = await api.doctor();
        const node = d.checks.find((c) => c.name === 'Node.js');
        assert.ok(node.detail.includes(process.version), node.detail);
      },
    );
  });
});
