'use strict';
// Speech markup and lexicons as users meet them: bad markup or a bad lexicon is a clear error that
// points at the place, exit 1, nothing written, nothing contacted; hosted providers get the text we
// mean (HeyGen: the written words, voiced in parts around each pause; ElevenLabs: short pauses as
// `<break time="…"/>` tags) and the timeline has each pause exactly.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const { parseWav, listFiles } = require('./support/voice.js');
const { useMedia, useApiEnv, MP3_SECONDS } = require('./support/media-servers.js');
const hf = require('../lib/index.js');

const SPEECH = 'POST /v3/voices/speech';
const RACHEL = '21m00Tcm4TlvDq8ikWAM';
const EL_TTS = `POST /v1/text-to-speech/${RACHEL}/with-timestamps`;

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const run = (args, { keys = { heygen: true }, env = {} } = {}) =>
  runCli(args, { home, env: { ...media.env(keys), ...env } });
const file = (name) => path.join(home.dir, name);

function refused(r, code) {
  assert.equal(r.code, 1, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const j = parseJson(r.stdout);
  assert.equal(j.ok, false, r.stdout);
  assert.equal(j.code, code, r.stdout);
  assert.ok(j.hint, 'a hint');
  return j;
}

describe('bad markup and lexicons', () => {
  const cases = [
    ['Wait <break time="-1s"/> now', /column 19: a pause cannot be negative/],
    ['Wait <break time="61s"/> now', /column 19: .*too long/],
    ['Wait <break time="500"/> now', /column 22: .*no unit/],
    ['Wait <break time="1s" now', /column 6: .*never closed/],
    ['Wait <break time="1s" <break time="1s"/>', /column 23: .*nested or unclosed/],
    ['Say [Kokoro](/kˈOB/) now', /column 18: `B`.*not a Kokoro phoneme/],
    ['Say [](/kˈO/) now', /column 5: the written word is empty/],
  ];
  for (const provider of ['kokoro', 'heygen']) {
    for (const [text, re] of cases) {
      test(`${provider}: ${text}`, async () => {
        const r = await run(['tts', text, '--provider', provider, '-o', 'out.wav', '--captions', 'c.srt', '--json']);
        const j = refused(r, 'BAD_MARKUP');
        assert.match(j.error, re);
        assert.match(j.error, /\^/, 'a caret under the character');
        assert.deepEqual(listFiles(home.dir).filter((f) => !f.startsWith('.heygen')), []);
        assert.equal(media.connections(), 0, 'nothing contacted');
      });
    }
  }

  test('a lexicon that is not JSON, has non-string values or an empty word', async () => {
    for (const [content, re] of [
      ['{"kokoro": ', /is not JSON/],
      ['{"kokoro": 3}', /"kokoro" is not a string/],
      ['{"": "kO"}', /empty word/],
      ['{"kokoro": "kOB"}', /character 3.*`B`/],
    ]) {
      fs.writeFileSync(file('lex.json'), content);
      for (const how of [['--lexicon', 'lex.json'], []]) {
        const env = how.length ? {} : { HYPERFRAMES_LEXICON: file('lex.json') };
        const r = await run(['tts', 'Hello', '--provider', 'kokoro', ...how, '--json'], { env });
        const j = refused(r, 'BAD_LEXICON');
        assert.match(j.error, re);
        assert.match(j.error, /lex\.json/, 'names the file');
      }
    }
    const r = await run(['tts', 'Hello', '--provider', 'kokoro', '--lexicon', 'missing.json', '--json']);
    refused(r, 'BAD_LEXICON');
    assert.deepEqual(listFiles(home.dir).filter((f) => f.endsWith('.wav')), []);
  });

  describe('JS API', () => {
    useApiEnv(() => ({ media, home }), { heygen: true });
    test('tts() and ttsStream() refuse bad markup with the code and the place', async () => {
      await assert.rejects(hf.tts('Wait <break time="2"/>', { provider: 'kokoro' }), (e) => {
        assert.equal(e.code, 'BAD_MARKUP');
        assert.match(e.message, /column 20/);
        return true;
      });
      await assert.rejects(hf.tts('Wait <break time="2"/>'), (e) => e.code === 'BAD_MARKUP');
      await assert.rejects(async () => {
        for await (const _ of hf.ttsStream('[x](/B/)', { provider: 'kokoro' })) void _;
      }, (e) => e.code === 'BAD_MARKUP');
      await assert.rejects(hf.tts('Hi', { provider: 'kokoro', lexicon: path.join(home.dir, 'none.json') }), (e) => e.code === 'BAD_LEXICON');
      assert.equal(media.connections(), 0);
    });
  });
});

describe('hosted providers', () => {
  test('HeyGen: voiced in parts around the pause, written words only, the pause exact', async () => {
    const text = 'Hello [there](/ðˈɛɹ/). <break time="1.5s"/> General Kenobi.';
    const r = await run(['tts', text, '-o', 'out.wav', '--words', 'w.json', '--json']);
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.equal(j.provider, 'heygen');
    assert.deepEqual(media.heygen.hits(SPEECH).map((q) => q.body.text), ['Hello there.', 'General Kenobi.']);
    assert.ok(j.anomalies.some((a) => /pronunciations are not sent/.test(a)), JSON.stringify(j.anomalies));
    const w = parseWav(fs.readFileSync(file('out.wav')));
    const gap = Math.round(1.5 * w.sampleRate);
    const part = (w.frames - gap) / 2;
    assert.ok(Number.isInteger(part), `two equal parts and exactly ${gap} samples of silence (${w.frames})`);
    assert.ok(w.samples.subarray(part, part + gap).every((v) => v === 0), 'silence');
    const words = JSON.parse(fs.readFileSync(file('w.json'), 'utf8'));
    assert.ok(words.every((x) => !/[<>[\]]/.test(x.text)), JSON.stringify(words));
    const second = words.find((x) => x.start >= MP3_SECONDS);
    assert.ok(second.start >= (part + gap) / w.sampleRate - 0.001, 'the second part starts after the pause');
  });

  test('ElevenLabs: a short pause goes as a break tag, a long one as silence between requests', async () => {
    const text = 'One. <break time="500ms"/> Two.<break time="4s"/>Three.';
    const r = await run(['tts', text, '--provider', 'elevenlabs', '-o', 'out.wav', '--words', 'w.json', '--json'], {
      keys: { heygen: false, eleven: true },
    });
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(media.eleven.hits(EL_TTS).map((q) => q.body.text), ['One. <break time="0.5s"/> Two.', 'Three.']);
    const words = JSON.parse(fs.readFileSync(file('w.json'), 'utf8'));
    assert.deepEqual(words.map((x) => x.text), ['One.', 'Two.', 'Three.'], 'no tag in the words');
    const w = parseWav(fs.readFileSync(file('out.wav')));
    assert.ok(w.frames / w.sampleRate > 4, 'the 4 s pause is in the audio');
  });
});
