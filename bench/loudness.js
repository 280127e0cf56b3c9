#!/usr/bin/env node
'use strict';
// Our loudness meter and normaliser against ffmpeg's `ebur128=peak=true` filter (the reference
// meter; `apt-get install -y ffmpeg`: bench only, never needed by the product or the tests).
// Files: tones (EBU 3341-like, an inter-sample-peak sine), music-like and noise, and speech made by
// our Kokoro (HYPERFRAMES_MODELS_DIR with kokoro/; skipped, visibly, without it).
// Pass: integrated within 0.3 LU, true peak within 0.5 dB; normalised files within 0.5 LU of the
// target with a true peak <= -1 dBTP, as ffmpeg measures them.
//
//   HYPERFRAMES_MODELS_DIR=/work/main/.cache/test-models node bench/loudness.js

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const hf = require('../lib/index.js');

function wav(file, { rate = 48000, channels = 1, seconds = 10, f }) {
  const frames = Math.round(rate * seconds);
  const data = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = f(i / rate, i);
    for (let c = 0; c < channels; c++) {
      const s = Array.isArray(v) ? v[c] : v;
      data.writeInt16LE(Math.round(Math.max(-1, Math.min(1, s)) * 32767), (i * channels + c) * 2);
    }
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * channels * 2, 28); h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
}

let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 1073741824) - 1;
const db = (x) => Math.pow(10, x / 20);
const TAU = 2 * Math.PI;

/** ffmpeg's ebur128 Summary: integrated (I), LRA and true peak (its `Peak:` with peak=true). */
function ffmpegSummary(file) {
  const args = ['-nostats', '-hide_banner', '-i', file, '-filter_complex', 'ebur128=peak=true', '-f', 'null', '-'];
  const run = spawnSync('ffmpeg', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ffmpeg failed on ${file}: ${run.stderr}`);
  const summary = run.stderr.slice(run.stderr.lastIndexOf('Summary:'));
  const num = (re) => { const m = summary.match(re); return m ? Number(m[1]) : null; };
  return { i: num(/I:\s+(-?[\d.]+) LUFS/), lra: num(/LRA:\s+(-?[\d.]+) LU/), tp: num(/Peak:\s+(-?[\d.]+) dBFS/) };
}

async function main() {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  } catch {
    console.error('ffmpeg is not installed (apt-get install -y ffmpeg)');
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-loudness-'));
  const files = {};
  const make = (name, spec) => { files[name] = path.join(dir, name); wav(files[name], spec); };
  make('tone-23-stereo-48k.wav', { channels: 2, seconds: 20, f: (t) => db(-23) * Math.sin(TAU * 1000 * t) });
  make('tone-fs-left-44k.wav', { rate: 44100, channels: 2, seconds: 10, f: (t) => [0.999 * Math.sin(TAU * 1000 * t), 0] });
  make('isp-12k-48k.wav', { seconds: 10, f: (t) => 0.9 * Math.sin(TAU * 12000 * t + Math.PI / 4) });
  make('noise-22k.wav', { rate: 22050, seconds: 15, f: () => 0.1 * rnd() });
  const period = 60 / 112;
  make('music-like-44k-stereo.wav', {
    rate: 44100, channels: 2, seconds: 30,
    f: (t) => {
      const k = Math.floor(t / period); const dt = t - k * period;
      const kick = 0.6 * Math.exp(-20 * dt) * Math.sin(TAU * (50 * dt + (100 / 30) * (1 - Math.exp(-30 * dt))));
      const snare = k % 2 ? 0.25 * Math.exp(-30 * dt) * rnd() : 0;
      const pad = 0.08 * [220, 261.63, 329.63].reduce((s, f) => s + Math.sin(TAU * f * t), 0) * (0.6 + 0.4 * Math.sin(TAU * 0.1 * t));
      return [kick + snare + pad, kick + 0.8 * snare + pad * 0.9];
    },
  });
  if (process.env.HYPERFRAMES_MODELS_DIR) {
    const text = 'Local engines run on your own computer. Every word gets a time from the model itself, '
      + 'and numbers like three fifty are read out. Then the narration pauses, and goes on a little more quietly.';
    files['speech-kokoro-24k.wav'] = path.join(dir, 'speech-kokoro-24k.wav');
    await hf.tts(text, { voice: 'jm_kumo', lang: 'en-us', output: files['speech-kokoro-24k.wav'], provider: 'kokoro' });
  } else {
    console.log('SKIP speech: set HYPERFRAMES_MODELS_DIR to a folder with kokoro/ to include Kokoro speech');
  }

  let allPass = true;
  console.log('file                          ours I    ffmpeg I   dI     ours TP   ffmpeg TP  dTP    ours LRA  ffmpeg LRA  ms ours');
  for (const [name, file] of Object.entries(files)) {
    const t0 = process.hrtime.bigint();
    const [ours] = await hf.loudness(file);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const ref = ffmpegSummary(file);
    const dI = ours.integratedLufs - ref.i;
    const dTP = ours.truePeakDbtp - ref.tp;
    const pass = Math.abs(dI) <= 0.3 && Math.abs(dTP) <= 0.5;
    allPass &&= pass;
    console.log(`${name.padEnd(29)} ${ours.integratedLufs.toFixed(2).padStart(7)}  ${ref.i.toFixed(1).padStart(7)}  ${dI.toFixed(2).padStart(6)}  ${ours.truePeakDbtp.toFixed(2).padStart(7)}  ${ref.tp.toFixed(1).padStart(8)}  ${dTP.toFixed(2).padStart(6)}  ${ours.loudnessRange.toFixed(1).padStart(7)}  ${String(ref.lra).padStart(9)}  ${ms.toFixed(0).padStart(7)}  ${pass ? 'PASS' : 'FAIL'}`);
  }
  console.log('\nnormalised (measured by ffmpeg):');
  for (const [name, file] of Object.entries(files)) {
    for (const target of [-14, -16, -23]) {
      const out = path.join(dir, `${path.basename(name, '.wav')}.norm${target}.wav`);
      let r;
      try {
        r = await hf.normalizeLoudness(file, out, { target, maxGain: 30 });
      } catch (e) {
        console.log(`${name.padEnd(29)} -> ${target}: ${e.code} ${e.message}`);
        continue;
      }
      const ref = ffmpegSummary(out);
      const pass = Math.abs(ref.i - target) <= 0.5 && ref.tp <= -1.0;
      allPass &&= pass;
      console.log(`${name.padEnd(29)} -> ${String(target).padStart(3)} LUFS: gain ${r.gainDb.toFixed(2).padStart(6)} dB, limiter ${r.limiterReductionDb.toFixed(2)} dB; ffmpeg I ${ref.i.toFixed(1)} (ours ${r.output.integratedLufs.toFixed(2)}), TP ${ref.tp.toFixed(1)} dBTP (ours ${r.output.truePeakDbtp.toFixed(2)})  ${pass ? 'PASS' : 'FAIL'}`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(allPass ? '\nall PASS' : '\nsome FAIL');
}

main().catch((e) => { console.error(e); process.exit(1); });
