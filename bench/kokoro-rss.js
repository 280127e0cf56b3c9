#!/usr/bin/env node
'use strict';
// Peak memory of `hyperframes tts` (Kokoro-82M int8 in-process) against the length of the text:
// the benchmark paragraph repeated to each length, streamed (`--stream`, to a sink that only counts
// bytes) and written to a WAV (`-o`, which is written as the chunks come). Memory should not grow
// with the text: a 1 MB text should peak where a paragraph does. Each run is watched for at most
// --seconds (long texts are stopped there: the steady state is what counts) and its peak RSS
// (VmHWM, polled from /proc every 50 ms) is printed with the ratio to the shortest text's.
// MB here are MiB (KiB / 1024), as bench/kokoro.js prints them. Prints only; see bench/README.md.
//
//   node bench/kokoro-rss.js [--cli PATH/bin/hyperframes.js] [--sizes 994,10000,100000,1000000]
//                            [--to stream,wav] [--seconds 600] [--voice jm_kumo] [--lang en-us]
//
// Env: HYPERFRAMES_MODELS_DIR must hold kokoro/kokoro-v1.0.int8.onnx and a voice pack. Linux only.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const REPO = path.join(__dirname, '..');
const SAMPLE_RATE = 24000;

function paragraph() {
  const src = fs.readFileSync(path.join(__dirname, 'kokoro.js'), 'utf8');
  const start = src.indexOf('const PARAGRAPH =');
  const body = src.slice(start + 'const PARAGRAPH ='.length, src.indexOf(';\n', start));
  return [...body.matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((m) => m[1]).join('');
}

function parseArgs(argv) {
  const o = { cli: path.join(REPO, 'bin', 'hyperframes.js'), sizes: [994, 10_000, 100_000, 1_000_000], to: ['stream', 'wav'], seconds: 600, voice: 'jm_kumo', lang: 'en-us' };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--cli': o.cli = path.resolve(v); i++; break;
      case '--sizes': o.sizes = v.split(',').map(Number); i++; break;
      case '--to': o.to = v.split(','); i++; break;
      case '--seconds': o.seconds = Number(v); i++; break;
      case '--voice': o.voice = v; i++; break;
      case '--lang': o.lang = v; i++; break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return o;
}

function statusKb(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) || [])[1] || 0);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Bytes written so far to the file `pid` has open in `dir` (the WAV, which has no name yet). */
function writtenInto(pid, dir) {
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      const link = `/proc/${pid}/fd/${fd}`;
      if (fs.readlinkSync(link).startsWith(dir + path.sep)) return fs.statSync(link).size;
    }
  } catch {
    // The process is gone or the file not open yet.
  }
  return 0;
}

/** One run (`to`: stream or wav): peak RSS, audio made, whether it finished inside the window. */
function run(o, textFile, to) {
  return new Promise((resolve, reject) => {
    const wav = path.join(path.dirname(textFile), 'out.wav');
    const sink = to === 'wav' ? ['-o', wav] : ['--stream'];
    const args = [o.cli, 'tts', '--text-file', textFile, ...sink, '--provider', 'kokoro', '--voice', o.voice, '--lang', o.lang, '--no-download'];
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let bytes = 0;
    let firstAt = null;
    let hwm = 0;
    let stderr = '';
    child.stdout.on('data', (d) => {
      bytes += d.length;
      if (firstAt === null) firstAt = performance.now() - t0;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const poll = setInterval(() => {
      const s = statusKb(child.pid);
      if (s) hwm = Math.max(hwm, s.hwm, s.rss);
    }, 50);
    let stopped = false;
    const limit = setTimeout(() => {
      stopped = true;
      const s = statusKb(child.pid);
      if (s) hwm = Math.max(hwm, s.hwm, s.rss);
      if (to === 'wav') bytes = Math.max(0, writtenInto(child.pid, path.dirname(wav)) - 44);
      child.kill('SIGTERM');
    }, o.seconds * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(limit);
      if (!stopped && code !== 0) return reject(new Error(`exit ${code}: ${stderr.slice(-2000)}`));
      if (to === 'wav' && !stopped) bytes = fs.statSync(wav).size - 44;
      fs.rmSync(wav, { force: true });
      resolve({ peakMb: hwm / 1024, audioSeconds: bytes / 2 / SAMPLE_RATE, firstAudioMs: firstAt, finished: !stopped, wallMs: performance.now() - t0 });
    });
  });
}

async function main() {
  if (process.platform !== 'linux') throw new Error('reads /proc: Linux only');
  const o = parseArgs(process.argv.slice(2));
  const para = paragraph();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-rss-'));
  try {
    for (const to of o.to) {
      const rows = [];
      console.log(`${to === 'wav' ? 'to a WAV (-o)' : 'streamed (--stream)'}:`);
      for (const size of o.sizes) {
        let text = '';
        while (text.length < size) text += (text ? ' ' : '') + para;
        text = text.slice(0, size);
        const file = path.join(dir, `text-${size}.txt`);
        fs.writeFileSync(file, text);
        const r = await run(o, file, to);
        rows.push({ size, ...r });
        console.log(
          `${String(size).padStart(9)} chars: peak RSS ${r.peakMb.toFixed(0).padStart(4)} MB, ` +
            `${r.audioSeconds.toFixed(1)} s of audio in ${(r.wallMs / 1000).toFixed(1)} s` +
            `${r.finished ? '' : ` (stopped after ${o.seconds} s)`}` +
            (to === 'stream' ? `, first audio ${r.firstAudioMs === null ? '-' : `${(r.firstAudioMs / 1000).toFixed(2)} s`}` : ''),
        );
      }
      const base = rows[0].peakMb;
      console.log(`peak RSS against the ${rows[0].size}-character text: ${rows.map((r) => `${r.size} → ${(r.peakMb / base).toFixed(3)}×`).join(', ')}`);
      console.log(`target: flat (≤ 1.05× at every length) and ≤ 400 MB: ${rows.every((r) => r.peakMb / base <= 1.05) && rows.every((r) => r.peakMb <= 400) ? 'PASS' : 'MISS'}\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
