'use strict';
// Every exported function answers an argument of the wrong type with a HyperframesError
// {code: 'USAGE', message naming the function, the argument and the type it needs, hint} before
// doing any work (napi's own `StringExpected … into rust type String` used to surface instead).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { makeHome } = require('./support/cli.js');

const api = require('../lib/index.js');

/** [call, argument as the message names it, the type it must be] */
const CASES = [
  [() => api.tts(42), 'text', 'a string'],
  [() => api.tts(), 'text', 'a string'],
  [() => api.tts('Hi.', 5), 'options', 'an options object'],
  [() => api.tts('Hi.', { speed: 'fast' }), 'options.speed', 'a number'],
  [() => api.tts('Hi.', { localOnly: 'yes' }), 'options.localOnly', 'a boolean'],
  [() => api.ttsStreamStart(42), 'text', 'a string'],
  [() => api.ttsStreamStart('Hi.', { voice: 7 }), 'options.voice', 'a string'],
  [async () => {
    for await (const _ of api.ttsStream(null)) assert.fail('no chunk for a null text');
  }, 'text', 'a string'],
  [() => api.buildMedia(null), 'request', 'a request object or the path of a request file'],
  [() => api.buildMedia({ lines: [] }, 5), 'options', 'an options object'],
  [() => api.buildMedia({ lines: [] }), 'options', 'an options object'],
  [() => api.buildMedia({ lines: [] }, {}), 'options.out', 'required'],
  [() => api.buildMedia({ lines: [] }, { out: 5 }), 'options.out', 'a string'],
  [() => api.buildMedia({ lines: [] }, { out: 'x', onProgress: 'nope' }), 'options.onProgress', 'a function'],
  [() => api.buildMedia({ lines: [] }, { out: 'x', concurrency: 'many' }), 'options.concurrency', 'a number'],
  [() => api.describe('a.png'), 'images', 'an array of strings'],
  [() => api.describe([1]), 'images', 'an array of strings'],
  [() => api.describe(['a.png'], { localOnly: 1 }), 'options.localOnly', 'a boolean'],
  [() => api.sfx(1), 'query', 'a string'],
  [() => api.sfx('whoosh', { output: false }), 'options.output', 'a string'],
  [() => api.music(1), 'prompt', 'a string'],
  [() => api.music('calm', { seconds: 'long' }), 'options.seconds', 'a number'],
  [() => api.modelsInstall(3), 'name', 'a string'],
  [() => api.modelsInstall('kokoro', { from: 1 }), 'options.from', 'a string'],
  [() => api.modelsRemove(null), 'name', 'a string'],
  [() => api.modelsVerify({}), 'name', 'a string'],
  [() => api.loginWithApiKey(null), 'key', 'a string'],
  [() => api.loginWithApiKey('hg_key', { keyring: 'yes' }), 'options.keyring', 'a boolean'],
  [() => api.logout(5), 'options', 'an options object'],
  [() => api.logout({ keepApiKey: 'no' }), 'options.keepApiKey', 'a boolean'],
  [() => api.plan(5), 'options', 'an options object'],
  [() => api.plan({ localOnly: 'x' }), 'options.localOnly', 'a boolean'],
  [() => api.captions('hello'), 'words', 'an array of timed words'],
  [() => api.captions([{ text: 'hi', start: 0, end: 1 }], 5), 'options', 'an options object'],
  [() => api.captions([{ text: 'hi', start: 'zero', end: 1 }]), 'words.start', 'a number'],
  [() => api.transcribe(42), 'audio', 'a file path or a Buffer'],
  [() => api.transcribe('a.wav', 'fast'), 'options', 'an options object'],
  [() => api.transcribe('a.wav', { script: 7 }), 'options.script', 'a string'],
  [() => api.loudness(42), 'files', 'a path or an array of paths'],
  [() => api.normalizeLoudness(1, 'out.wav'), 'input', 'a string'],
  [() => api.normalizeLoudness('a.wav', 'out.wav', 5), 'options', 'an options object'],
  [() => api.normalizeLoudness('a.wav', 'out.wav', { truePeak: 'loud' }), 'options.truePeak', 'a number'],
  [() => api.beats(42), 'file', 'a string'],
  [() => api.beats('a.wav', { output: 1 }), 'options.output', 'a string'],
];

/** Exports that take no arguments (anything passed is ignored). */
const NO_ARGUMENTS = ['authStatus', 'authToken', 'doctor', 'listVoices', 'modelsList', 'refreshAuth', 'resolveCredential'];

let home;
let saved;
before(() => {
  // Nothing should run, but if a check regressed, nothing real is touched either.
  home = makeHome();
  saved = { ...process.env };
  Object.assign(process.env, {
    HOME: home.dir,
    HEYGEN_CONFIG_DIR: home.configDir,
    HYPERFRAMES_MODELS_DIR: home.modelsDir,
    HYPERFRAMES_OFFLINE: '1',
  });
});
after(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  home.cleanup();
});

async function usageError(call) {
  try {
    await call();
  } catch (err) {
    return err;
  }
  return assert.fail('the call succeeded');
}

describe('arguments of the wrong type', () => {
  for (const [call, name, want] of CASES) {
    test(`${call.toString().replace(/^\(\) => /, '').slice(0, 70)} → USAGE naming \`${name}\``, async () => {
      const err = await usageError(call);
      assert.equal(err.name, 'HyperframesError', err.stack);
      assert.equal(err.code, 'USAGE', err.message);
      assert.ok(err.message.includes(`\`${name}\``), err.message);
      assert.ok(err.message.includes(want), err.message);
      assert.ok(!/Expected|rust type/.test(err.message), err.message);
      assert.ok(err.hint && err.hint.includes('index.d.ts'), err.hint);
    });
  }

  test('every exported function taking arguments is covered above', () => {
    const covered = new Set(CASES.map(([call]) => /api\.(\w+)\(/.exec(call.toString())[1]));
    const functions = Object.keys(api).filter((k) => typeof api[k] === 'function' && !/^[A-Z]/.test(k) && k !== 'runCli');
    assert.deepEqual(functions.filter((f) => !covered.has(f) && !NO_ARGUMENTS.includes(f)), []);
  });

  test('runCli (the bin entry point) answers USAGE too, as the same HyperframesError', () => {
    assert.throws(() => api.runCli('tts hello'), {
      name: 'HyperframesError',
      code: 'USAGE',
      message: /^runCli\(\): `argv` must be an array of strings, not a string\./,
    });
  });
});
