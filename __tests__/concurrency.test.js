'use strict';
// Many CLI processes mutating one credentials file at once (logins, refreshes, logouts): afterwards
// the file still parses and no unknown key written by another tool has been lost.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { useContract, isoIn, fileMode } = require('./support/setup.js');

const FOREIGN = {
  heygen_cli_profile: { name: 'work', region: 'us' },
  zz_settings: [1, 'two', { three: 3 }],
};

describe('concurrent mutators', () => {
  const ctx = useContract();

  test('12 processes (login --api-key / refresh / logout --keep-api-key) keep the file valid and every unknown key', async () => {
    const keys = Array.from({ length: 4 }, (_, i) => ctx.server.addApiKey(`hg_CONCURRENT_${i}_0123456789`));
    const rt = ctx.server.addRefreshToken('rt_SECRETREFRESH_conc_0123456789');
    ctx.server.rotateRefresh = false; // every refresh can succeed with the same refresh token
    ctx.home.write({
      ...FOREIGN,
      api_key: keys[0],
      oauth: { oauth_vendor: { keep: true }, access_token: 'at_SECRETACCESS_conc_0123', refresh_token: rt, expires_at: isoIn(-60) },
      user: { email: 'old@example.com', user_vendor: 'keep' },
    });

    const jobs = [];
    for (let i = 0; i < 4; i++) {
      jobs.push(['login', ctx.run(['auth', 'login', '--api-key', keys[i]])]);
      jobs.push(['refresh', ctx.run(['auth', 'refresh'])]);
      jobs.push(['logout', ctx.run(['auth', 'logout', '--keep-api-key', '--yes'])]);
    }
    const results = await Promise.all(jobs.map(([, p]) => p));

    results.forEach((r, i) => {
      const kind = jobs[i][0];
      if (kind === 'login' || kind === 'logout') assert.equal(r.code, 0, `${kind} #${i}: ${r.output}`);
      // A refresh may legitimately find the OAuth session already removed by a logout.
      if (kind === 'refresh' && r.code !== 0) assert.match(r.stderr, /No OAuth refresh token to use/, r.output);
    });

    const raw = ctx.home.readRaw();
    const file = JSON.parse(raw);
    assert.deepEqual(file.heygen_cli_profile, FOREIGN.heygen_cli_profile);
    assert.deepEqual(file.zz_settings, FOREIGN.zz_settings);
    assert.ok(keys.includes(file.api_key), 'one of the logins won');
    assert.equal(file.user.user_vendor, 'keep');
    // (The oauth block itself may be gone: removing it, unknown keys included, is what logout does.)
    assert.equal(fileMode(ctx.home.credPath), 0o600);
    const leftovers = fs.readdirSync(ctx.home.configDir).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, [], 'no temp files left behind');
  });

  test('8 concurrent refreshes with rotation: the file stays valid and holds a refresh token the server knows', async () => {
    const rt = ctx.server.addRefreshToken('rt_SECRETREFRESH_rot_0123456789');
    ctx.home.write({ ...FOREIGN, oauth: { oauth_vendor: 1, access_token: 'at_SECRETACCESS_rot_0123', refresh_token: rt, expires_at: isoIn(-60) } });
    const results = await Promise.all(Array.from({ length: 8 }, () => ctx.run(['auth', 'refresh'])));
    assert.ok(results.some((r) => r.code === 0), 'at least one refresh succeeded');
    const file = ctx.home.read();
    assert.deepEqual(file.heygen_cli_profile, FOREIGN.heygen_cli_profile);
    assert.deepEqual(file.zz_settings, FOREIGN.zz_settings);
    assert.equal(file.oauth.oauth_vendor, 1);
    assert.ok(ctx.server.refreshTokens.has(file.oauth.refresh_token), 'the stored refresh token is the live one');
  });
});
