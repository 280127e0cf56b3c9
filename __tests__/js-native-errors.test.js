'use strict';
// The addon itself sets `name`, `code`, `hint` (and, from the chains, `anomalies`) on the errors it
// throws and rejects with: these calls bypass lib/index.js and reach the native functions directly.
const { test } = require('node:test');
const assert = require('node:assert/strict');

const native = require('../lib/native.js');
const api = require('../lib/index.js');

const usageHint = (fn) => `See ${fn}() in hyperframes' type definitions (index.d.ts) for its arguments.`;

test('a sync function throws a HyperframesError with code and hint set natively', () => {
  let thrown;
  try {
    native.modelsRemove(42);
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error);
  assert.equal(thrown.name, 'HyperframesError');
  assert.equal(thrown.code, 'USAGE');
  assert.equal(thrown.message, 'modelsRemove(): `name` must be a string, not a number.');
  assert.equal(thrown.hint, usageHint('modelsRemove'));
  assert.equal(Object.hasOwn(thrown, 'anomalies'), false);
  // No code, hint or anomalies text left in the message for anyone to parse.
  assert.doesNotMatch(thrown.message, /USAGE|Hint:|Anomalies:/);
});

test('an async function rejects with a HyperframesError with code and hint set natively', async () => {
  await assert.rejects(native.music('calm', { seed: 1.5 }), (err) => {
    assert.equal(err.name, 'HyperframesError');
    assert.equal(err.code, 'BAD_SEED');
    assert.match(err.message, /^seed must be a whole number from 0 to 2\^53 − 1 \(got 1\.5\)\.$/);
    assert.equal(err.hint, 'Pass the seed a previous result reported, or leave it out.');
    return true;
  });
  await assert.rejects(native.modelsVerify('no-such-model'), {
    name: 'HyperframesError',
    code: 'UNKNOWN_MODEL',
    message: "Unknown model 'no-such-model'.",
  });
});

test('an argument error of an async function rejects (not throws) with the same shape', async () => {
  const p = native.plan(7);
  assert.ok(p instanceof Promise);
  await assert.rejects(p, { name: 'HyperframesError', code: 'USAGE', hint: usageHint('plan') });
});

test('the package exports the native functions as they are: no JS error translation layer', () => {
  for (const name of ['tts', 'music', 'sfx', 'plan', 'modelsRemove', 'captions']) {
    assert.equal(api[name], native[name], name);
  }
});
