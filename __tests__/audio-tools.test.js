'use strict';
// The audio tools: `hyperframes loudness` (EBU R128 measures, and normalising to a target with the
// true-peak limiter) and `hyperframes beats`, on generated WAV files with known answers.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const hf = require('../lib/index.js');

/** A 16-bit PCM WAV of `channels` channels, each frame `f(t)` (one value for all channels). */
function wav(file, { rate = 48000, channels = 1, seconds = 5, f }) {
  const frames = Math.round(rate * seconds);
  const data = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.max(-1, Math.min(1, f(i / rate)));
    for (let c = 0; c < channels; c++) data.writeInt16LE(Math.round(v * 32767), (i * channels + c) * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
}

const db = (x) => Math.pow(10, x / 20);
const sine = (amp, hz) => (t) => amp * Math.sin(2 * Math.PI * hz * t);

let home;
const file = (name) => path.join(home.dir, name);
const run = (args) => runCli(args, { home });

before(() => {
  home = makeHome();
  wav(file('tone.wav'), { channels: 2, seconds: 10, f: sine(db(-23), 1000) });
  wav(file('quiet.wav'), { rate: 44100, f: sine(db(-50), 440) });
  wav(file('silent.wav'), { rate: 22050, f: () => 0 });
  // Speech-like: syllable bursts of a voiced tone with pauses, 22.05 kHz mono.
  wav(file('speechy.wav'), {
    rate: 22050,
    seconds: 8,
    f: (t) => 0.3 * Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 2 * (t % 3 < 2.4) * sine(1, 150)(t),
  });
  // 128 BPM: a kick (150 -> 50 Hz, 150 ms) on every beat, louder on the first of each bar, from 0.5 s.
  const period = 60 / 128;
  wav(file('groove.wav'), {
    rate: 44100,
    channels: 2,
    seconds: 20,
    f: (t) => {
      if (t < 0.5) return 0.01 * Math.sin(2 * Math.PI * 220 * t);
      const k = Math.floor((t - 0.5) / period);
      const dt = t - 0.5 - k * period;
      const accent = k % 4 === 0 ? 1 : 0.55;
      const phase = 2 * Math.PI * (50 * dt + (100 / 30) * (1 - Math.exp(-30 * dt)));
      return accent * 0.7 * Math.exp(-20 * dt) * Math.sin(phase) + 0.02 * Math.sin(2 * Math.PI * 220 * t);
    },
  });
  fs.writeFileSync(file('notes.wav'), 'these are not samples\n');
  fs.writeFileSync(file('empty.wav'), '');
});
after(() => home.cleanup());

describe('loudness', () => {
  test('--json gives the EBU R128 measures of each file; a -23 dBFS 1 kHz stereo tone reads -23 LUFS', async () => {
    const r = await run(['loudness', 'tone.wav', 'silent.wav', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = parseJson(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.files.length, 2);
    const [tone, silent] = j.files;
    assert.deepEqual(Object.keys(tone).sort(), [
      'channels', 'durationSeconds', 'integratedLufs', 'loudnessRange', 'note', 'path',
      'samplePeakDbfs', 'sampleRate', 'shortTermMaxLufs', 'truePeakDbtp',
    ]);
    assert.equal(tone.path, 'tone.wav');
    assert.ok(Math.abs(tone.integratedLufs + 23) <= 0.1, tone.integratedLufs);
    assert.ok(Math.abs(tone.truePeakDbtp + 23) <= 0.2, tone.truePeakDbtp);
    assert.equal(tone.durationSeconds, 10);
    assert.equal(tone.channels, 2);
    assert.equal(tone.note, null);
    // Silence: no NaN, no infinity: null with a note saying why.
    assert.equal(silent.integratedLufs, null);
    assert.equal(silent.truePeakDbtp, null);
    assert.match(silent.note, /silent/);
    assert.doesNotMatch(r.stdout, /NaN|Infinity/);
  });

  test('the human form says "silent" for silence', async () => {
    const r = await run(['loudness', 'silent.wav', 'tone.wav']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /silent\.wav: silent/);
    assert.match(r.stdout, /tone\.wav: -23\.0 LUFS/);
  });

  test('a file that is not audio, or an empty one, is BAD_AUDIO naming it', async () => {
    for (const name of ['notes.wav', 'empty.wav']) {
      const r = await run(['loudness', name, '--json']);
      assert.equal(r.code, 1);
      const j = parseJson(r.stdout);
      assert.equal(j.code, 'BAD_AUDIO', r.stdout);
      assert.match(j.error, new RegExp(name.replace('.', '\\.')));
    }
  });

  test('--target normalises to the target with the true peak under the ceiling', async () => {
    const r = await run(['loudness', 'speechy.wav', '--target', 'podcast', '-o', 'out.wav', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = parseJson(r.stdout);
    assert.equal(j.targetLufs, -16);
    assert.equal(j.truePeakLimitDbtp, -1);
    assert.equal(j.outputPath, 'out.wav');
    assert.ok(Math.abs(j.output.integratedLufs + 16) <= 0.5, JSON.stringify(j.output));
    assert.ok(j.output.truePeakDbtp <= -1, JSON.stringify(j.output));
    assert.equal(j.output.sampleRate, 22050);
    // The written file measures as reported.
    const m = parseJson((await run(['loudness', 'out.wav', '--json'])).stdout).files[0];
    assert.ok(Math.abs(m.integratedLufs - j.output.integratedLufs) <= 0.05, `${m.integratedLufs}`);
    assert.ok(m.truePeakDbtp <= -1);
  });

  test('a gain above --max-gain is GAIN_TOO_LARGE with the gain needed, and writes nothing', async () => {
    const r = await run(['loudness', 'quiet.wav', '--target', '-14', '-o', 'loud.wav', '--json']);
    assert.equal(r.code, 1);
    const j = parseJson(r.stdout);
    assert.equal(j.code, 'GAIN_TOO_LARGE');
    assert.match(j.error, /needs \+\d+\.\d dB of gain/);
    assert.equal(fs.existsSync(file('loud.wav')), false);
    assert.deepEqual(fs.readdirSync(home.dir).filter((f) => f.startsWith('loud')), []);
    const more = await run(['loudness', 'quiet.wav', '--target', '-14', '-o', 'loud.wav', '--max-gain', '40', '--json']);
    assert.equal(more.code, 0, more.stdout);
    assert.equal(fs.existsSync(file('loud.wav')), true);
  });

  test('--target outside -70..0, silence, and -o without --target are refused', async () => {
    const high = parseJson((await run(['loudness', 'tone.wav', '--target', '5', '-o', 'x.wav', '--json'])).stdout);
    assert.equal(high.code, 'BAD_INPUT');
    assert.match(high.error, /between -70 and 0/);
    const silent = parseJson((await run(['loudness', 'silent.wav', '--target', '-14', '-o', 'x.wav', '--json'])).stdout);
    assert.equal(silent.code, 'SILENT_AUDIO');
    const noTarget = parseJson((await run(['loudness', 'tone.wav', '-o', 'x.wav', '--json'])).stdout);
    assert.equal(noTarget.code, 'USAGE');
    assert.equal(fs.existsSync(file('x.wav')), false);
  });
});

describe('beats', () => {
  test('--json and -o give the tempo, the beats with a strength and the downbeats', async () => {
    const r = await run(['beats', 'groove.wav', '-o', 'groove.beats.json', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = parseJson(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.version, 1);
    assert.equal(j.audio, 'groove.wav');
    assert.equal(j.outputPath, 'groove.beats.json');
    assert.ok(Math.abs(j.bpm - 128) / 128 <= 0.01, `bpm ${j.bpm}`);
    assert.ok(j.beats.length >= 36, `${j.beats.length} beats`);
    for (const b of j.beats) {
      assert.deepEqual(Object.keys(b), ['time', 'strength']);
      const k = Math.round((b.time - 0.5) / (60 / 128));
      assert.ok(Math.abs(b.time - 0.5 - k * (60 / 128)) <= 0.07, `beat at ${b.time}`);
      assert.ok(b.strength >= 0 && b.strength <= 1);
    }
    assert.ok(j.downbeats.length >= 8, JSON.stringify(j.downbeats));
    for (const t of j.downbeats) {
      const bar = Math.round((t - 0.5) / (4 * 60 / 128));
      assert.ok(Math.abs(t - 0.5 - bar * 4 * (60 / 128)) <= 0.07, `downbeat at ${t}`);
    }
    // The file: HyperFrames' {version, audio, beats} with bpm and downbeats, no ok/outputPath.
    const saved = JSON.parse(fs.readFileSync(file('groove.beats.json'), 'utf8'));
    assert.deepEqual(Object.keys(saved), ['version', 'audio', 'bpm', 'beats', 'downbeats', 'durationSeconds']);
    assert.deepEqual(saved.beats, j.beats);
  });

  test('silence has no tempo: bpm null, no beats; not audio is BAD_AUDIO', async () => {
    const j = parseJson((await run(['beats', 'silent.wav', '--json'])).stdout);
    assert.equal(j.bpm, null);
    assert.deepEqual(j.beats, []);
    const human = await run(['beats', 'silent.wav']);
    assert.match(human.stdout, /no beat found/);
    const bad = parseJson((await run(['beats', 'notes.wav', '--json'])).stdout);
    assert.equal(bad.code, 'BAD_AUDIO');
  });
});

describe('JS API', () => {
  test('loudness(), normalizeLoudness() and beats() return what --json prints', async () => {
    const [tone] = await hf.loudness(file('tone.wav'));
    const cli = parseJson((await run(['loudness', file('tone.wav'), '--json'])).stdout).files[0];
    assert.deepEqual(tone, cli);
    const both = await hf.loudness([file('tone.wav'), file('silent.wav')]);
    assert.equal(both[1].integratedLufs, null);

    const n = await hf.normalizeLoudness(file('speechy.wav'), file('js-out.wav'), { target: 'broadcast' });
    assert.equal(n.targetLufs, -23);
    assert.ok(Math.abs(n.output.integratedLufs + 23) <= 0.5);
    assert.ok(n.output.truePeakDbtp <= -1);

    await assert.rejects(hf.normalizeLoudness(file('quiet.wav'), file('js-loud.wav'), { target: -14 }), (e) => e.code === 'GAIN_TOO_LARGE');
    assert.equal(fs.existsSync(file('js-loud.wav')), false);
    await assert.rejects(hf.normalizeLoudness(file('tone.wav'), file('js-x.wav'), { target: 5 }), (e) => e.code === 'BAD_INPUT');

    const b = await hf.beats(file('groove.wav'));
    assert.ok(Math.abs(b.bpm - 128) / 128 <= 0.01, `${b.bpm}`);
    assert.equal(b.outputPath, null);
    await assert.rejects(hf.beats(42), (e) => e.code === 'USAGE');
  });
});
