'use strict';
// Speech markup with the real Kokoro int8 model (runs when HYPERFRAMES_TEST_MODELS_DIR is set):
// a break is exact silence and the words after it move by exactly that much; the WAV has exactly
// the samples the parts make plus the pause; `--stream` carries the same audio, silence included;
// inline phonemes and a lexicon entry give byte-identical audio; captions show the written words,
// and `@remotion/captions` pages our `--to remotion` output into those words.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createTikTokStyleCaptions } = require('@remotion/captions');
const { makeHome, runCli } = require('../support/cli.js');
const { parseJson } = require('../support/setup.js');
const { SKIP_REAL, realModelsDir, parseWav, runRaw } = require('../support/voice.js');

const REAL = realModelsDir();
const SR = 24_000;
const VOICE = ['--voice', 'jm_kumo', '--lang', 'en-us', '--provider', 'kokoro'];
const TIMEOUT = 300_000;
const A = 'Local engines run here.';
const B = 'Every word gets [Kokoro](/kˈOkəɹO/) timing.';
const PAUSE = 0.7;

let home;
const env = () => ({ HYPERFRAMES_MODELS_DIR: REAL });
const run = (args) => runCli(args, { home, timeoutMs: TIMEOUT, env: env() });
const file = (name) => path.join(home.dir, name);
const words = (name) => JSON.parse(fs.readFileSync(file(name), 'utf8'));

describe('markup with the real Kokoro model', () => {
  before(() => {
    home = makeHome();
  });
  after(() => home.cleanup());

  test('a break is exact silence; words after it shift by exactly the pause; stream carries it', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const text = `${A} <break time="${PAUSE * 1000}ms"/> ${B}`;
    for (const [name, input] of [['a', A], ['b', B], ['ab', text]]) {
      const r = await run(['tts', input, ...VOICE, '-o', `${name}.wav`, '--words', `${name}.json`, '--to', 'remotion', '--json']);
      assert.equal(r.code, 0, r.output);
      assert.equal(parseJson(r.stdout).captionsPath, `${name}.captions.json`);
    }
    const [a, b, ab] = ['a', 'b', 'ab'].map((n) => parseWav(fs.readFileSync(file(`${n}.wav`))));
    const gap = Math.round(PAUSE * SR);
    assert.equal(ab.frames, a.frames + gap + b.frames, 'the parts plus exactly the pause');
    assert.ok(ab.samples.subarray(a.frames, a.frames + gap).every((v) => v === 0), 'the pause is silence');
    const [wa, wb, wab] = ['a', 'b', 'ab'].map((n) => words(`${n}.json`));
    assert.deepEqual(wab.map((w) => w.text), [...wa, ...wb].map((w) => w.text), 'the written words, never the markup');
    assert.ok(wab.some((w) => w.text === 'Kokoro'));
    const shift = (a.frames + gap) / SR;
    wb.forEach((w, i) => {
      const got = wab[wa.length + i];
      assert.ok(Math.abs(got.start - (w.start + shift)) <= 0.0011, `${w.text}: ${got.start} vs ${w.start} + ${shift}`);
      assert.ok(Math.abs(got.end - (w.end + shift)) <= 0.0011, `${w.text}: end`);
    });

    const captions = JSON.parse(fs.readFileSync(file('ab.captions.json'), 'utf8'));
    const { pages } = createTikTokStyleCaptions({ captions, combineTokensWithinMilliseconds: 1200 });
    assert.deepEqual(pages.flatMap((p) => p.tokens.map((k) => k.text.trim())), wab.map((w) => w.text));

    const s = await runRaw(['tts', text, ...VOICE, '--stream'], { home, timeoutMs: TIMEOUT, env: env() });
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(s.stdout, ab.data, 'the stream is the same PCM as the WAV, silence included');
  });

  test('inline phonemes and a lexicon entry give identical audio', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    fs.writeFileSync(file('lex.json'), JSON.stringify({ kokoro: 'kˈOkəɹO' }));
    const inline = await run(['tts', 'Say [Kokoro](/kˈOkəɹO/) twice.', ...VOICE, '-o', 'inline.wav', '--json']);
    const lex = await run(['tts', 'Say Kokoro twice.', ...VOICE, '--lexicon', 'lex.json', '-o', 'lex.wav', '--json']);
    assert.equal(inline.code, 0, inline.output);
    assert.equal(lex.code, 0, lex.output);
    assert.deepEqual(fs.readFileSync(file('inline.wav')), fs.readFileSync(file('lex.wav')));
    assert.deepEqual(parseJson(inline.stdout).words, parseJson(lex.stdout).words);
  });
});
