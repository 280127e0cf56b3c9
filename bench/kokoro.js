#!/usr/bin/env node
'use strict';
// Times `hyperframes tts` (Kokoro-82M int8 in-process) against kokoro-onnx (Python) on the same model
// file, voice, phonemes and thread count, in the same run, alternating the two; prints medians, a
// per-stage breakdown, audio sanity checks and the four targets (PASS/MISS). Prints only, writes no
// results file. See bench/README.md.
//
//   node bench/kokoro.js [--cli PATH/bin/hyperframes.js] [--runs 3] [--threads N] [--voice jm_kumo]
//                        [--lang en-us] [--python PATH] [--own-chunking] [--no-ort-control] [--keep]
//                        [--setup-only] [--quick]
//
// Env: HYPERFRAMES_MODELS_DIR (default: fetch the registry models and install them into a temp dir).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const REPO = path.join(__dirname, '..');
const PEER_PINS = ['kokoro-onnx==0.6.1', 'onnxruntime==1.30.0'];
const SAMPLE_RATE = 24000;
const SAMPLES_PER_FRAME = 600;

const PARAGRAPH =
  'The lighthouse keeper woke before dawn, as he had done every morning for thirty years. He climbed the ' +
  'narrow spiral stairs, counting each of the one hundred and twelve steps, and checked the great lamp for ' +
  'soot and cracks. Outside, the sea was calm and grey, and a thin line of gold was spreading slowly along ' +
  'the horizon. Fishing boats were already leaving the harbour, their engines humming softly across the ' +
  'water. He made a pot of strong coffee, wrote the weather in his logbook, and listened to the radio for ' +
  'news of the storm that had been promised for the weekend. Nobody visited the island in winter, but he ' +
  'never felt lonely. There were gulls to watch, books to read, and long letters from his daughter, who ' +
  'lived in a busy city far to the south. She often asked when he would finally retire. He always answered ' +
  'that the light still needed him, although he knew that one day a small machine would do his job without ' +
  'ever climbing a single stair. The thought did not trouble him at all.';
const SHORT = 'The quick brown fox jumps over the lazy dog, then curls up for a long nap.';
// Three sentences (about 8 s of audio): streamed, its first chunk should be short too.
const THREE =
  'The quick brown fox jumps over the lazy dog. It curls up under the old oak tree and sleeps until ' +
  'the evening. When the sun goes down, it wakes, stretches and trots home across the field.';

// ---------------------------------------------------------------------------------------------- args

function parseArgs(argv) {
  const o = {
    cli: path.join(REPO, 'bin', 'hyperframes.js'),
    runs: 3,
    threads: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    voice: 'jm_kumo',
    lang: 'en-us',
    speed: 1.0,
    python: null,
    ownChunking: false,
    keep: false,
    setupOnly: false,
    ortControl: true,
    quick: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--cli') o.cli = path.resolve(val());
    else if (a === '--runs') o.runs = Math.max(1, Number(val()) | 0);
    else if (a === '--threads') o.threads = Math.max(1, Number(val()) | 0);
    else if (a === '--voice') o.voice = val();
    else if (a === '--lang') o.lang = val();
    else if (a === '--python') o.python = path.resolve(val());
    else if (a === '--own-chunking') o.ownChunking = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--setup-only') o.setupOnly = true;
    else if (a === '--no-ort-control') o.ortControl = false;
    else if (a === '--quick') o.quick = true;
    else if (a === '-h' || a === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 12).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ------------------------------------------------------------------------------------------- helpers

const now = () => performance.timeOrigin + performance.now(); // ms since the epoch, sub-ms
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout || ''}${r.stderr || ''}`);
  }
  return r.stdout;
}

/** 16-bit PCM samples of a WAV file: {samples: Int16Array, rate}. */
function readWav(file) {
  const b = fs.readFileSync(file);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file} is not a WAV`);
  let at = 12;
  let rate = 0;
  let bits = 0;
  while (at + 8 <= b.length) {
    const id = b.toString('ascii', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      rate = b.readUInt32LE(at + 12);
      bits = b.readUInt16LE(at + 22);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`${file}: expected 16-bit PCM, got ${bits}-bit`);
      const data = b.subarray(at + 8, at + 8 + size);
      return { samples: new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)), rate };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error(`${file} has no data chunk`);
}

function loudness(samples) {
  let peak = 0;
  let sq = 0;
  for (const s of samples) {
    const a = Math.abs(s);
    if (a > peak) peak = a;
    sq += s * s;
  }
  return { peak, rms: Math.sqrt(sq / Math.max(1, samples.length)) };
}

// --------------------------------------------------------------------------------------------- setup

function modelsDir(opts, scratch) {
  if (process.env.HYPERFRAMES_MODELS_DIR) return process.env.HYPERFRAMES_MODELS_DIR;
  log('HYPERFRAMES_MODELS_DIR is not set: fetching the registry models (scripts/fetch-registry-models.sh)');
  const out = sh('bash', [path.join(REPO, 'scripts', 'fetch-registry-models.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const from = out.trim().split('\n').pop();
  const dir = path.join(scratch, 'models');
  log(`installing kokoro from ${from} into ${dir}`);
  sh(process.execPath, [opts.cli, 'models', 'install', 'kokoro', '--from', from], {
    env: { ...process.env, HYPERFRAMES_MODELS_DIR: dir },
    stdio: ['ignore', 2, 2],
  });
  return dir;
}

function peerPython(opts) {
  if (opts.python) return opts.python;
  const venv = path.join(REPO, '.cache', 'bench-venv');
  const py = path.join(venv, 'bin', 'python');
  const pinned = () => {
    const r = spawnSync(py, ['-m', 'pip', 'freeze'], { encoding: 'utf8' });
    return r.status === 0 && PEER_PINS.every((p) => r.stdout.toLowerCase().includes(p.toLowerCase()));
  };
  if (fs.existsSync(py) && pinned()) return py;
  log(`creating the peer venv ${venv} with ${PEER_PINS.join(' ')}`);
  if (!fs.existsSync(py)) sh('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  sh(py, ['-m', 'pip', 'install', '--quiet', ...PEER_PINS], { stdio: 'inherit' });
  return py;
}

function timeTool() {
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', 'true'], { encoding: 'utf8' });
  if (r.status === 0) return '/usr/bin/time';
  log('/usr/bin/time not found (apt-get install time): peak RSS is polled from /proc/<pid>/status VmHWM instead');
  return null;
}

// ---------------------------------------------------------------------------------------------- runs

/**
 * Runs a command once: wall (spawn → exit), time of the first stdout byte, bytes on stdout, stderr,
 * peak RSS (KiB), CPU time (user + system, ms; NaN without /usr/bin/time). `t0` is the epoch ms at
 * spawn, to lay log time stamps against.
 */
function runOnce(cmd, args, env, timeBin, scratch) {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(scratch, `rss-${process.hrtime.bigint()}`);
    const [c, a] = timeBin ? [timeBin, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const t0 = now();
    const child = spawn(c, a, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = null;
    let bytes = 0;
    const chunks = [];
    let stderr = '';
    let hwm = 0;
    const poll = timeBin
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwm = Math.max(hwm, Number(m[1]));
          } catch {}
        }, 10);
    child.stdout.on('data', (d) => {
      if (first === null) first = now();
      bytes += d.length;
      chunks.push(d);
    });
    child.stderr.on('data', (d) => (stderr += d));
    let exitAt = null;
    child.on('exit', () => (exitAt = now()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const end = exitAt ?? now();
      if (code !== 0) return reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}… exited ${code}\n${stderr.slice(-3000)}`));
      let rssKiB = hwm;
      let cpuMs = NaN;
      if (timeBin) {
        const [rss, user, sys] = fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        rssKiB = rss;
        cpuMs = (user + sys) * 1000;
        fs.rmSync(rssFile, { force: true });
      }
      resolve({ t0, wallMs: end - t0, ttfaMs: first === null ? NaN : first - t0, bytes, stdout: Buffer.concat(chunks), stderr, rssKiB, cpuMs });
    });
  });
}

/** Epoch ms of a tracing time stamp such as 2026-11-28T10:19:57.914827Z. */
function stampMs(s) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(s);
  if (!m) return NaN;
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(m[2]) * 1000 : 0);
}

/** The debug events of one `hyperframes tts` run. */
function parseOurLog(stderr) {
  const ev = { loaded: NaN, ortPath: null, ortVersion: null, planned: NaN, g2pMs: NaN, phonemes: null, chunks: [] };
  for (const line of stderr.split('\n')) {
    const m = /^(\S+)\s+(\w+)\s+(\S+): (.*)$/.exec(line);
    if (!m) continue;
    const [, ts, , , rest] = m;
    const t = stampMs(ts);
    const field = (name) => {
      const f = new RegExp(`(?:^| )${name}=([^ ]+)`).exec(rest);
      return f ? Number(f[1]) : NaN;
    };
    if (rest.startsWith('loaded ONNX Runtime')) {
      ev.loaded = t;
      ev.ortPath = (/ path=(\S+)/.exec(rest) || [])[1];
      ev.ortVersion = (/ version=(\S+)/.exec(rest) || [])[1];
    }
    else if (rest.startsWith('phonemized') && ev.phonemes === null) {
      const p = rest.indexOf(' phonemes=');
      ev.phonemes = p >= 0 ? rest.slice(p + ' phonemes='.length) : null;
    } else if (rest.startsWith('planned')) {
      // The whole text is read, phonemized and chunked before the model loads.
      ev.planned = t;
      ev.g2pMs = field('g2p_ms');
    } else if (rest.startsWith('chunk synthesised')) {
      ev.chunks.push({ t, ortMs: field('ort_ms'), tokens: field('tokens'), frames: field('frames'), samples: field('samples') });
    }
  }
  return ev;
}

/** `env` overrides ctx.ourEnv (the ORT-binary control sets ORT_DYLIB_PATH). */
async function runOurs(ctx, text, stream, env = ctx.ourEnv) {
  const out = path.join(ctx.scratch, `ours-${process.hrtime.bigint()}.wav`);
  const args = [ctx.opts.cli, 'tts', text, '-o', out, '--voice', ctx.opts.voice, '--lang', ctx.opts.lang];
  if (stream) args.push('--stream');
  const r = await runOnce(process.execPath, args, env, ctx.timeBin, ctx.scratch);
  const ev = parseOurLog(r.stderr);
  if (env.ORT_DYLIB_PATH && ev.ortPath !== env.ORT_DYLIB_PATH) throw new Error(`loaded ${ev.ortPath}, not ${env.ORT_DYLIB_PATH}`);
  if (!ev.chunks.length || !ev.phonemes) throw new Error(`no debug timings from hyperframes (HYPERFRAMES_LOG=debug):\n${r.stderr.slice(-2000)}`);
  const ortMs = sum(ev.chunks.map((c) => c.ortMs));
  const g2pStart = ev.planned - ev.g2pMs;
  const firstChunkStart = ev.chunks[0].t - ev.chunks[0].ortMs;
  const lastChunk = ev.chunks[ev.chunks.length - 1].t;
  const res = {
    ...r,
    ev,
    ortMs,
    samples: sum(ev.chunks.map((c) => c.samples)),
    synthMs: ev.g2pMs + lastChunk - firstChunkStart, // G2P + every ORT run + timing/fades
    // In the order they happen; they add up to the wall.
    stages: {
      'start + addon + CLI + voice pack': g2pStart - r.t0,
      G2P: ev.g2pMs,
      'ORT library load': ev.loaded - ev.planned,
      'model load (read, edit, session)': firstChunkStart - ev.loaded,
      'ORT run (sum)': ortMs,
      'other synthesis (style, timing, fades, stdout)': lastChunk - firstChunkStart - ortMs,
      'WAV write + exit': r.t0 + r.wallMs - lastChunk,
    },
  };
  if (!stream) {
    const wav = readWav(out);
    res.wav = { samples: wav.samples.length, rate: wav.rate, ...loudness(wav.samples) };
    if (!ctx.opts.keep) fs.rmSync(out, { force: true });
  }
  return res;
}

async function runPeer(ctx, probe, stream) {
  const id = process.hrtime.bigint();
  const job = {
    model: ctx.modelFile,
    voices: ctx.voicePacks,
    voice: ctx.opts.voice,
    lang: ctx.opts.lang,
    speed: ctx.opts.speed,
    threads: ctx.opts.threads,
    phonemes: probe.phonemes,
    chunk_tokens: probe.chunkTokens,
    own_chunking: ctx.opts.ownChunking,
    stream,
    out: path.join(ctx.scratch, `peer-${id}.wav`),
    report: path.join(ctx.scratch, `peer-${id}.json`),
  };
  const jobFile = path.join(ctx.scratch, `job-${id}.json`);
  fs.writeFileSync(jobFile, JSON.stringify(job));
  const r = await runOnce(ctx.python, [path.join(__dirname, 'kokoro_onnx_peer.py'), jobFile], ctx.peerEnv, ctx.timeBin, ctx.scratch);
  const rep = JSON.parse(fs.readFileSync(job.report, 'utf8'));
  const ms = (t) => t * 1000;
  const ortMs = sum(rep.chunks.map((c) => c.ort_ms));
  const res = {
    ...r,
    rep,
    ortMs,
    samples: rep.samples,
    synthMs: ms(rep.synth_done - rep.synth_start),
    stages: {
      'start + imports (numpy, onnxruntime, kokoro_onnx)': ms(rep.imports) - r.t0,
      'model load (session)': ms(rep.session - rep.imports),
      'Kokoro.from_session (voices, espeak init)': ms(rep.ready - rep.session),
      'ORT run (sum)': ortMs,
      'other synthesis (tokenize, numpy, stdout)': ms(rep.synth_done - rep.synth_start) - ortMs,
      'WAV write + exit': r.t0 + r.wallMs - ms(rep.synth_done),
    },
  };
  if (!stream) {
    const wav = readWav(job.out);
    res.wav = { samples: wav.samples.length, rate: wav.rate, ...loudness(wav.samples) };
  }
  if (!ctx.opts.keep) for (const f of [job.out, job.report, jobFile]) fs.rmSync(f, { force: true });
  return res;
}

// ------------------------------------------------------------------------------------------- printing

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
const row = (cells, widths) => cells.map((c, i) => String(c)[i ? 'padStart' : 'padEnd'](widths[i])).join('  ');

function printTable(title, header, rows) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)));
  console.log(`\n${title}`);
  console.log(row(header, widths));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(row(r, widths));
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.cli)) throw new Error(`no CLI at ${opts.cli} (--cli PATH/bin/hyperframes.js)`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-kokoro-bench-'));
  const home = path.join(scratch, 'home');
  fs.mkdirSync(home);
  const models = modelsDir(opts, scratch);
  const modelFile = path.join(models, 'kokoro', 'kokoro-v1.0.int8.onnx');
  if (!fs.existsSync(modelFile)) throw new Error(`${modelFile} is missing (hyperframes models install kokoro)`);
  const voicePacks = ['voices_ja.npz', 'voices-v1.0.bin'].map((f) => path.join(models, 'kokoro', f)).filter((f) => fs.existsSync(f));
  if (!voicePacks.length) throw new Error(`no voice pack in ${path.join(models, 'kokoro')}`);
  const python = peerPython(opts);
  const timeBin = timeTool();
  const base = { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' };
  const ctx = {
    opts,
    scratch,
    modelFile,
    voicePacks,
    python,
    timeBin,
    ourEnv: {
      ...base,
      HEYGEN_CONFIG_DIR: path.join(home, '.heygen'),
      HYPERFRAMES_MODELS_DIR: models,
      HYPERFRAMES_THREADS: String(opts.threads),
      HYPERFRAMES_LOG: 'debug',
      HYPERFRAMES_OFFLINE: '1',
      NO_COLOR: '1',
    },
    peerEnv: { ...base, PYTHONDONTWRITEBYTECODE: '1' },
  };
  // Control: our CLI on the libonnxruntime of the peer's onnxruntime wheel, so the two ORT builds
  // (npm's and PyPI's, same version) can be told apart from our own code.
  if (opts.ortControl) {
    const lib = spawnSync(python, ['-c', 'import onnxruntime, os, glob; d = os.path.join(os.path.dirname(onnxruntime.__file__), "capi"); print((sorted(glob.glob(os.path.join(d, "libonnxruntime.so*"))) + [""])[0])'], { encoding: 'utf8' }).stdout.trim();
    if (lib) ctx.ctlEnv = { ...ctx.ourEnv, ORT_DYLIB_PATH: lib };
    else log('the peer wheel has no libonnxruntime.so: skipping the ORT-binary control');
  }
  const load0 = os.loadavg();
  const versions = spawnSync(python, ['-c', 'import sys, onnxruntime, numpy, importlib.metadata as m; print(sys.version.split()[0], m.version("kokoro-onnx"), onnxruntime.__version__, numpy.__version__)'], { encoding: 'utf8' }).stdout.trim().split(' ');
  const ourVersion = sh(process.execPath, [opts.cli, '--version'], { env: ctx.ourEnv }).trim();
  if (opts.setupOnly) {
    console.log(`cli ${opts.cli} (${ourVersion})\nmodels ${models}\nmodel ${modelFile}\nvoice packs ${voicePacks.join(', ')}`);
    console.log(`peer ${python} (Python ${versions[0]}, kokoro-onnx ${versions[1]}, onnxruntime ${versions[2]}, numpy ${versions[3]})`);
    console.log(`peak RSS via ${timeBin || '/proc/<pid>/status VmHWM polling'}`);
    console.log(`ORT-binary control: ${ctx.ctlEnv ? ctx.ctlEnv.ORT_DYLIB_PATH : 'off'}`);
    fs.rmSync(scratch, { recursive: true, force: true });
    return;
  }

  // Probe runs: the phonemes and chunking we use (fed to the peer), and a warm page cache for both.
  // --quick: a smoke test of this script (two sentences for the paragraph); its figures mean nothing.
  const inputs = { paragraph: opts.quick ? PARAGRAPH.split('. ').slice(0, 2).join('. ') + '.' : PARAGRAPH, short: SHORT, three: THREE };
  const probes = {};
  for (const [name, text] of Object.entries(inputs)) {
    log(`probe: hyperframes on the ${name} (${text.length} chars)`);
    const r = await runOurs(ctx, text, false);
    probes[name] = { phonemes: r.ev.phonemes, chunkTokens: r.ev.chunks.map((c) => c.tokens) };
    log(`probe: kokoro-onnx on the same ${r.ev.phonemes.length} phoneme characters, chunks of ${probes[name].chunkTokens.join('+')} tokens`);
    const p = await runPeer(ctx, probes[name], false);
    const peerTokens = p.rep.chunks.map((c) => c.tokens);
    if (!opts.ownChunking && peerTokens.join() !== probes[name].chunkTokens.join()) {
      throw new Error(`the peer tokenised the chunks as ${peerTokens} tokens, we fed ${probes[name].chunkTokens}`);
    }
  }

  // Measured runs, alternating which side goes first.
  const ctl = ctx.ctlEnv ? ['ctl'] : [];
  const plan = [
    ['paragraph', 'wav', ['ours', 'peer', ...ctl]],
    ['paragraph', 'stream', ['ours', 'peer']],
    ['short', 'wav', ['ours', 'peer', ...ctl]],
    ['three', 'wav', ['ours']],
    ['three', 'stream', ['ours']],
  ];
  const NAMES = { ours: 'hyperframes', peer: 'kokoro-onnx', ctl: 'hyperframes on PyPI ORT' };
  const S = {};
  const bucket = (k) => (S[k] ??= []);
  const startCost = [];
  for (let i = 0; i < opts.runs; i++) {
    for (const [input, mode, sides] of plan) {
      const order = sides.map((_, j) => sides[(i + j) % sides.length]);
      for (const who of order) {
        log(`run ${i + 1}/${opts.runs}: ${NAMES[who]}, ${input}, ${mode}`);
        const r =
          who === 'peer'
            ? await runPeer(ctx, probes[input], mode === 'stream')
            : await runOurs(ctx, inputs[input], mode === 'stream', who === 'ctl' ? ctx.ctlEnv : ctx.ourEnv);
        if (who !== 'peer' && r.ev.phonemes !== probes[input].phonemes) throw new Error('our phonemes changed between runs');
        bucket(`${who}/${input}/${mode}`).push(r);
      }
    }
    const v = await runOnce(process.execPath, [opts.cli, '--version'], ctx.ourEnv, null, scratch);
    startCost.push(v.wallMs);
  }
  const load1 = os.loadavg();

  // ------------------------------------------------------------------------------------- figures
  const m = (k, f) => median(S[k].map(f));
  const audioS = (k) => m(k, (r) => r.samples) / SAMPLE_RATE;
  console.log(`\nKokoro-82M benchmark: hyperframes ${ourVersion.replace(/^hyperframes\s*/, '')} (${opts.cli}) vs kokoro-onnx ${versions[1]} (Python ${versions[0]}, onnxruntime ${versions[2]}, numpy ${versions[3]})`);
  console.log(`model ${modelFile}, voice ${opts.voice}, lang ${opts.lang}, speed ${opts.speed}, ${opts.threads} intra-op threads, ${opts.runs} alternating runs each, medians`);
  console.log(`peer fed our phonemes ${opts.ownChunking ? 'as one string (kokoro-onnx chunks it itself)' : 'in our chunks'}; trim and pauses off`);
  console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0].model.trim()}), load average ${load0.map(f2).join(' ')} before, ${load1.map(f2).join(' ')} after (shared machine)`);
  for (const [name, text] of Object.entries(inputs)) {
    console.log(`${name}: ${text.length} chars → ${probes[name].phonemes.length} phoneme chars, ${probes[name].chunkTokens.length} chunk(s) of ${probes[name].chunkTokens.join('+')} tokens, ${f2(audioS(`ours/${name}/wav`))} s of audio`);
  }

  const rows = [];
  for (const [input, mode, sides] of plan) {
    for (const who of sides) {
      const k = `${who}/${input}/${mode}`;
      const audio = audioS(k);
      const wall = m(k, (r) => r.wallMs);
      rows.push([
        `${NAMES[who]} ${input} ${mode}`,
        f1(wall),
        f1(Math.min(...S[k].map((r) => r.wallMs))),
        f1(m(k, (r) => r.synthMs)),
        f1(m(k, (r) => r.ortMs)),
        mode === 'stream' ? f1(m(k, (r) => r.ttfaMs)) : '',
        f2(audio),
        f3(wall / 1000 / audio),
        f3(m(k, (r) => r.synthMs) / 1000 / audio),
        pct(m(k, (r) => (r.wallMs - r.ortMs) / r.wallMs)),
        f1(m(k, (r) => r.rssKiB / 1024)),
        f1(m(k, (r) => r.cpuMs)),
      ]);
    }
  }
  printTable(
    'Per run (ms unless said; medians; wall = spawn → exit of a fresh process)',
    ['case', 'wall', 'min wall', 'synth', 'ORT', 'TTFA', 'audio s', 'RTF e2e', 'RTF synth', 'non-ORT', 'peak RSS MB', 'CPU ms'],
    rows,
  );
  console.log('synth: ours = G2P + first chunk start → last chunk out (model load left out); peer = first → last create() (phonemes given, no G2P)');
  const ortRatio = m('ours/paragraph/wav', (r) => r.ortMs) / m('peer/paragraph/wav', (r) => r.ortMs);
  const cpuRatio = m('ours/paragraph/wav', (r) => r.cpuMs) / m('peer/paragraph/wav', (r) => r.cpuMs);
  console.log(`same ORT work on both sides: ORT-time ratio ours/peer ${f3(ortRatio)}, CPU-time ratio ${f3(cpuRatio)} (paragraph)`);
  if (ctx.ctlEnv) {
    const c = (k, f) => m(`ctl/${k}`, f) / m(`peer/${k}`, f);
    console.log(`same ORT binary (ours on ${ctx.ctlEnv.ORT_DYLIB_PATH}): wall ratio ctl/peer ${f3(c('paragraph/wav', (r) => r.wallMs))} paragraph, ${f3(c('short/wav', (r) => r.wallMs))} short; ORT-time ratio ${f3(c('paragraph/wav', (r) => r.ortMs))} paragraph, ${f3(c('short/wav', (r) => r.ortMs))} short`);
    console.log(`ORT binary effect on our CLI (npm lib / PyPI lib): ORT time ${f3(m('ours/paragraph/wav', (r) => r.ortMs) / m('ctl/paragraph/wav', (r) => r.ortMs))} paragraph, ${f3(m('ours/short/wav', (r) => r.ortMs) / m('ctl/short/wav', (r) => r.ortMs))} short`);
  }
  const perChunk = (who) => {
    const list = S[`${who}/paragraph/wav`];
    const chunks = who !== 'peer' ? (r) => r.ev.chunks.map((c) => [c.tokens, c.ortMs, c.samples]) : (r) => r.rep.chunks.map((c) => [c.tokens, c.ort_ms, c.samples]);
    return chunks(list[0]).map(([tokens, , samples], i) => `${tokens} tok/${f1(samples / SAMPLE_RATE)} s → ${f1(median(list.map((r) => chunks(r)[i][1])))} ms`).join(', ');
  };
  console.log(`ORT per paragraph chunk (median): ours ${perChunk('ours')}; peer ${perChunk('peer')}${ctx.ctlEnv ? `; ours on PyPI ORT ${perChunk('ctl')}` : ''}`);
  console.log(`process start + addon load alone (\`hyperframes --version\`): median ${f1(median(startCost))} ms`);

  for (const input of Object.keys(inputs)) {
    const stageRows = [];
    const ours = S[`ours/${input}/wav`];
    const peer = S[`peer/${input}/wav`];
    for (const [label, list] of [['hyperframes', ours], ['kokoro-onnx', peer]]) {
      const wall = median(list.map((r) => r.wallMs));
      for (const name of Object.keys(list[0].stages)) {
        const v = median(list.map((r) => r.stages[name]));
        stageRows.push([`${label}: ${name}`, f1(v), pct(v / wall)]);
      }
    }
    printTable(`Breakdown, ${input}, WAV output (medians of each stage, ms; share of the median wall)`, ['stage', 'ms', 'share'], stageRows);
  }

  // Audio sanity.
  const checks = [];
  const check = (ok, what) => checks.push([ok ? 'ok' : 'FAIL', what]);
  for (const input of Object.keys(inputs)) {
    for (const r of [...S[`ours/${input}/wav`], ...(S[`ctl/${input}/wav`] || [])]) {
      check(r.wav.rate === SAMPLE_RATE && r.wav.samples % SAMPLES_PER_FRAME === 0, `ours ${input}: ${r.wav.samples} samples at ${r.wav.rate} Hz, a multiple of ${SAMPLES_PER_FRAME}`);
      check(r.wav.peak > 1000 && r.wav.rms > 100, `ours ${input}: not silent (peak ${r.wav.peak}, rms ${r.wav.rms.toFixed(0)})`);
      check(r.wav.samples === r.samples, `ours ${input}: WAV holds the ${r.samples} samples the chunks logged`);
    }
    const ours = median(S[`ours/${input}/wav`].map((r) => r.wav.samples));
    for (const r of S[`peer/${input}/wav`] ?? []) {
      const d = (r.wav.samples - ours) / ours;
      check(Math.abs(d) <= 0.01, `peer ${input}: ${r.wav.samples} samples vs ours ${ours} (${(d * 100).toFixed(2)}%, within ±1%)`);
      check(r.wav.peak > 1000, `peer ${input}: not silent (peak ${r.wav.peak}, rms ${r.wav.rms.toFixed(0)})`);
    }
  }
  {
    // The peer is fed the WAV's chunks, so its stream is the WAV; ours starts with a short first
    // chunk (its own cut), so its length differs a little from the WAV's.
    const want = median(S['peer/paragraph/wav'].map((r) => r.samples)) * 2;
    for (const r of S['peer/paragraph/stream']) check(r.bytes === want, `peer paragraph --stream: ${r.bytes} bytes of s16le = the WAV run's ${want}`);
    for (const input of ['paragraph', 'three']) {
      const ours = median(S[`ours/${input}/wav`].map((r) => r.samples)) * 2;
      for (const r of S[`ours/${input}/stream`]) check(Math.abs(r.bytes - ours) / ours <= 0.05, `ours ${input} --stream: ${r.bytes} bytes of s16le, the WAV run's ${ours} (within 5%)`);
    }
  }
  const failed = checks.filter((c) => c[0] !== 'ok');
  console.log(`\nAudio checks: ${checks.length - failed.length}/${checks.length} ok`);
  for (const c of failed.length ? failed : checks.slice(0, 0)) console.log(`  ${c[0]} ${c[1]}`);

  // Targets.
  const wallRatio = m('ours/paragraph/wav', (r) => r.wallMs) / m('peer/paragraph/wav', (r) => r.wallMs);
  const shortRatio = m('ours/short/wav', (r) => r.wallMs) / m('peer/short/wav', (r) => r.wallMs);
  const overhead = m('ours/paragraph/wav', (r) => (r.wallMs - r.ortMs) / r.wallMs);
  const ttfa = m('ours/paragraph/stream', (r) => r.ttfaMs / r.wallMs);
  const peerTtfa = m('peer/paragraph/stream', (r) => r.ttfaMs / r.wallMs);
  const rss = Math.max(...Object.entries(S).filter(([k]) => k.startsWith('ours/')).flatMap(([, l]) => l.map((r) => r.rssKiB / 1024)));
  const peerRss = Math.max(...Object.entries(S).filter(([k]) => k.startsWith('peer/')).flatMap(([, l]) => l.map((r) => r.rssKiB / 1024)));
  const verdict = (ok) => (ok ? 'PASS' : 'MISS');
  console.log('\nTargets (paragraph, WAV output unless said)');
  console.log(`  ${verdict(wallRatio <= 0.8)}  wall ratio ours/kokoro-onnx ${f3(wallRatio)} (target ≤ 0.8; short sentence ${f3(shortRatio)})`);
  console.log(`  ${verdict(overhead <= 0.05)}  overhead beyond the ORT run ${pct(overhead)} of our wall (target ≤ 5%; kokoro-onnx ${pct(m('peer/paragraph/wav', (r) => (r.wallMs - r.ortMs) / r.wallMs))})`);
  console.log(`  ${verdict(ttfa <= 0.25)}  time to first audio ${pct(ttfa)} of the full --stream run (${f1(m('ours/paragraph/stream', (r) => r.ttfaMs))} of ${f1(m('ours/paragraph/stream', (r) => r.wallMs))} ms; target ≤ 25%; kokoro-onnx ${pct(peerTtfa)})`);
  const three = m('ours/three/stream', (r) => r.ttfaMs);
  console.log(`  ${verdict(three <= 0.25 * m('ours/three/stream', (r) => r.wallMs))}  time to first audio, three sentences (${f2(audioS('ours/three/wav'))} s of audio): ${f1(three)} of ${f1(m('ours/three/stream', (r) => r.wallMs))} ms (${pct(three / m('ours/three/stream', (r) => r.wallMs))}; target ≤ 25%)`);
  console.log(`  ${verdict(rss <= 400)}  peak RSS ${f1(rss)} MB, worst of all our runs (target ≤ 400 MB; kokoro-onnx ${f1(peerRss)} MB)`);
  if (opts.keep) console.log(`\nkept ${scratch}`);
  else fs.rmSync(scratch, { recursive: true, force: true });
  if (failed.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(`bench: ${e.stack || e.message}`);
  process.exit(1);
});
