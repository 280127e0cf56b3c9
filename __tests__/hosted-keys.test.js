'use strict';
// Keys with control characters: `plan` and `tts` read the environment the same way, so a key one
// calls unusable is unusable for the other, and both name the variable and say how to fix it.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson, failJson } = require('./support/setup.js');
const { useMedia, KEYS } = require('./support/media-servers.js');

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const BAD_EL = 'el_SECRETBAD\u0001_0123456789abcdef';
const BAD_HG = 'hg_SECRETBAD\u0001_0123456789abcdef';

async function run(args, env) {
  const r = await runCli(args, { home, env: { ...media.env({ eleven: true }), ...env } });
  assertNoSecrets(r.output, [...Object.values(KEYS), 'SECRETBAD'], `hyperframes ${args.join(' ')}`);
  return r;
}

function candidate(planJson, capability, provider) {
  return planJson.plans.find((p) => p.capability === capability).candidates.find((c) => c.provider === provider);
}

describe('an ElevenLabs key with a control character', () => {
  test('plan: unavailable, with the reason and the fix', async () => {
    const j = parseJson((await run(['plan', '--json'], { ELEVENLABS_API_KEY: BAD_EL })).stdout);
    const el = candidate(j, 'voice', 'elevenlabs');
    assert.equal(el.available, false);
    assert.match(el.reason, /ELEVENLABS_API_KEY is set but contains control characters/);
    assert.match(el.setupHint, /without newlines/);
  });

  test('tts --provider elevenlabs: the same reason, not "not configured in this process"; nothing sent', async () => {
    const r = await run(['tts', 'Hello there', '--provider', 'elevenlabs', '-o', 'out.wav', '--json'], { ELEVENLABS_API_KEY: BAD_EL });
    const j = failJson(r, 'PROVIDER_UNAVAILABLE');
    assert.match(j.error, /ELEVENLABS_API_KEY is set but contains control characters/);
    assert.ok(!/not configured in this process/.test(r.output), r.output);
    assert.equal(media.eleven.connections, 0);
  });
});

describe('a HeyGen key with a control character', () => {
  test('plan names HEYGEN_API_KEY, never "Credential file is unreadable"', async () => {
    const j = parseJson((await run(['plan', '--json'], { HEYGEN_API_KEY: BAD_HG })).stdout);
    const hg = candidate(j, 'voice', 'heygen');
    assert.equal(hg.available, false);
    assert.match(hg.reason, /HEYGEN_API_KEY is not a usable key: it contains control characters/);
    assert.match(hg.setupHint, /Set HEYGEN_API_KEY to the key alone/);
    assert.ok(!/Credential file/.test(JSON.stringify(j)));
  });

  test('auth status names the variable', async () => {
    const r = await run(['auth', 'status', '--json'], { HEYGEN_API_KEY: BAD_HG });
    assert.equal(r.code, 1);
    const j = parseJson(r.stdout);
    assert.match(j.error, /^HEYGEN_API_KEY is not a usable key/);
    assert.ok(!/Credential file/.test(r.output), r.output);
  });
});
