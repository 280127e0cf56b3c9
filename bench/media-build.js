#!/usr/bin/env node
'use strict';
// Times `hyperframes media build` against the way the JS engine it replaces voices a script: one
// `hyperframes tts` process per line, four at a time (its HYPERFRAMES_TTS_CONCURRENCY default), then
// the same per-line processes one at a time. Same lines, same voice, same machine, in the same run,
// alternating; prints medians and ratios. Two scenarios:
//
//   local   Kokoro in-process (needs the model: HYPERFRAMES_MODELS_DIR or `npm run models:registry`)
//   hosted  HeyGen speech against a 127.0.0.1 contract server that answers in --latency ms
//
//   node bench/media-build.js [--cli PATH/bin/hyperframes.js] [--runs 3] [--lines 6] [--latency 400]
//                             [--only local|hosted]
// Prints only, writes no results file. See bench/README.md.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const REPO = path.join(__dirname, '..');
const SENTENCES = [
  'Ship videos from code, with a voice that sounds like a person.',
  'Every word carries its own start and end time.',
  'Captions follow the words, not the other way round.',
  'Music sits under the narration without drowning it.',
  'Sound effects land exactly where the script says.',
  'Nothing leaves the machine unless you sign in.',
  'The same request builds the same audio every time.',
  'Edit one line and only that line is spoken again.',
];

function parseArgs(argv) {
  const o = { cli: path.join(REPO, 'bin', 'hyperframes.js'), runs: 3, lines: 6, latency: 400, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i];
    if (a === '--cli') o.cli = path.resolve(val());
    else if (a === '--runs') o.runs = Number(val());
    else if (a === '--lines') o.lines = Number(val());
    else if (a === '--latency') o.latency = Number(val());
    else if (a === '--only') o.only = val();
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function run(cli, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} → ${code}\n${stderr}`))));
  });
}

async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]);
    }
  });
  await Promise.all(workers);
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function scenario(name, o, { env, voiceArgs, requestExtra }) {
  const lines = SENTENCES.slice(0, o.lines).map((text, i) => ({ id: `line${i + 1}`, text }));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-bench-media-'));
  const request = path.join(work, 'request.json');
  fs.writeFileSync(request, JSON.stringify({ ...requestExtra, lines }));
  const times = { build: [], perLine4: [], perLine1: [] };
  const perLine = (limit, out) =>
    pool(lines, limit, (l) =>
      run(o.cli, ['tts', l.text, ...voiceArgs, '-o', path.join(out, `${l.id}.wav`), '--words', path.join(out, `${l.id}.json`)], env),
    );
  for (let r = 0; r < o.runs; r++) {
    const out = (k) => path.join(work, `${k}-${r}`);
    times.build.push(await timed(() => run(o.cli, ['media', 'build', request, '--out', out('build'), '--fresh'], env)));
    fs.mkdirSync(out('p4'));
    times.perLine4.push(await timed(() => perLine(4, out('p4'))));
    fs.mkdirSync(out('p1'));
    times.perLine1.push(await timed(() => perLine(1, out('p1'))));
  }
  fs.rmSync(work, { recursive: true, force: true });
  const b = median(times.build);
  const p4 = median(times.perLine4);
  const p1 = median(times.perLine1);
  console.log(`\n${name}: ${lines.length} lines, ${o.runs} runs (median wall seconds)`);
  console.log(`  media build (one process)            ${b.toFixed(2)} s`);
  console.log(`  tts per line, 4 at a time (JS engine) ${p4.toFixed(2)} s   ratio build/peer ${(b / p4).toFixed(3)}×`);
  console.log(`  tts per line, one at a time           ${p1.toFixed(2)} s   ratio build/peer ${(b / p1).toFixed(3)}×`);
}

async function hostedServer(latencyMs) {
  const { startMedia } = require('../__tests__/support/media-servers.js');
  const media = await startMedia();
  const delayed = () => ({ delayMs: latencyMs, fallthrough: true });
  media.heygen.queue('POST /v3/voices/speech', ...Array.from({ length: 1000 }, delayed));
  return media;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };
  if (o.only !== 'hosted') {
    const models = process.env.HYPERFRAMES_MODELS_DIR;
    if (!models) console.log('local: set HYPERFRAMES_MODELS_DIR to a folder with the Kokoro model (skipped)');
    else {
      const env = { ...base, HYPERFRAMES_MODELS_DIR: models };
      await scenario('local (Kokoro in-process)', o, {
        env,
        voiceArgs: ['--voice', 'jm_kumo', '--lang', 'en-us', '--local-only'],
        requestExtra: { voice: 'jm_kumo', lang: 'en-us', provider: 'kokoro' },
      });
    }
  }
  if (o.only !== 'local') {
    const media = await hostedServer(o.latency);
    try {
      const env = { ...base, ...media.env({ heygen: true }), HYPERFRAMES_MODELS_DIR: path.join(os.tmpdir(), 'hf-bench-no-models') };
      await scenario(`hosted (HeyGen contract server, ${o.latency} ms per speech request)`, o, {
        env,
        voiceArgs: ['--provider', 'heygen'],
        requestExtra: { provider: 'heygen' },
      });
    } finally {
      await media.stop();
    }
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
