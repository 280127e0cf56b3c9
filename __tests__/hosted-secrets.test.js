'use strict';
// The hosted providers' keys never reach stdout, stderr or a JS error: every provider below fails
// with bodies that echo the key it was sent (401, 402, 429, 5xx, a 200 that is not the documented
// shape), with HYPERFRAMES_LOG=debug, in JSON and human output, and through the JS API.

const { describe, test, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets } = require('./support/setup.js');
const { useMedia, KEYS, PNG, useApiEnv } = require('./support/media-servers.js');

const ALL = Object.values(KEYS);
const ROUTES = {
  heygen: ['POST /v3/voices/speech', 'GET /v3/voices', 'GET /v3/audio/sounds'],
  eleven: ['POST /v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/with-timestamps', 'GET /v1/voices'],
  gemini: ['POST /v1beta/models/lyria-3-clip-preview:generateContent', 'POST /v1beta/models/gemini-3.1-flash-lite-preview:generateContent'],
  openrouter: ['POST /v1/chat/completions'],
};

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});
beforeEach(() => {
  fs.writeFileSync(path.join(home.dir, 'red.png'), PNG);
});

/** Every route of every fake answers `make(key)` (the key it was sent, in the body) for a while. */
function echoEverywhere(make) {
  for (const [name, routes] of Object.entries(ROUTES)) {
    for (const route of routes) {
      for (let i = 0; i < 4; i++) media[name].queue(route, make(KEYS[name]));
    }
  }
}

const BODIES = {
  '401': (k) => ({ status: 401, json: { error: { code: 'unauthorized', message: `key ${k} rejected` } } }),
  '402': (k) => ({ status: 402, json: { error: { code: 'plan_upgrade_required', message: `account of ${k}` } } }),
  '429': (k) => ({ status: 429, headers: { 'retry-after': '0' }, json: { error: `slow down ${k}` } }),
  '500': (k) => ({ status: 500, body: `Internal error while checking X-Api-Key: ${k}\nBearer ${k}` }),
  'bad 200': (k) => ({ status: 200, json: { unexpected: true, echo: k, data: { echo: k } } }),
  'html 200': (k) => ({ status: 200, headers: { 'content-type': 'text/html' }, body: `<html>${k}</html>` }),
};

const COMMANDS = [
  ['tts', 'Hello there', '-o', 'out.wav', '--no-download'],
  ['tts', 'Hello there', '--provider', 'elevenlabs', '-o', 'out.wav'],
  ['voices', '--provider', 'heygen'],
  ['voices', '--provider', 'elevenlabs'],
  ['music', 'calm', '--seconds', '2', '-o', 'bgm.wav'],
  ['sfx', 'whoosh', '-o', 'fx.wav'],
  ['sfx', 'whoosh', '--list'],
  ['describe', 'red.png'],
  ['describe', 'red.png', '--provider', 'gemini'],
];

describe('no key in any output', () => {
  for (const [label, make] of Object.entries(BODIES)) {
    test(`every provider answers ${label} echoing its key`, async () => {
      for (const cmd of COMMANDS) {
        for (const json of [false, true]) {
          media.reset();
          echoEverywhere(make);
          const args = json ? [...cmd, '--json'] : cmd;
          const r = await runCli(args, {
            home,
            env: { ...media.env({ heygen: true, eleven: true, gemini: true, openrouter: true }), HYPERFRAMES_LOG: 'debug' },
          });
          assert.ok(r.output.length > 0, `hyperframes ${args.join(' ')} printed nothing`);
          assertNoSecrets(r.output, ALL, `hyperframes ${args.join(' ')} (${label})`);
        }
      }
    });
  }
});

describe('no key in JS results or errors', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: true, eleven: true, gemini: true, openrouter: true }, { HYPERFRAMES_LOG: 'debug' });

  for (const [label, make] of Object.entries(BODIES)) {
    test(`music / sfx / describe with ${label} bodies`, async () => {
      echoEverywhere(make);
      const calls = [
        () => api.music('calm', { seconds: 2, output: path.join(home.dir, 'a.wav') }),
        () => api.music('calm', { seconds: 2, output: path.join(home.dir, 'b.wav'), noFallback: true }),
        () => api.sfx('whoosh', { output: path.join(home.dir, 'c.wav') }),
        () => api.sfx('whoosh', { output: path.join(home.dir, 'd.wav'), provider: 'heygen' }),
        () => api.describe([path.join(home.dir, 'red.png')]),
      ];
      for (const call of calls) {
        let shown;
        try {
          shown = JSON.stringify(await call());
        } catch (e) {
          shown = `${e.message}\n${e.hint}\n${e.code}\n${e.stack}`;
        }
        assertNoSecrets(shown, ALL, `JS (${label})`);
      }
    });
  }
});
