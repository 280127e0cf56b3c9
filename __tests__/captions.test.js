'use strict';
// Captions for the video-from-code tools: `hyperframes captions --to remotion|ass|srt|vtt` and the
// JS `captions()`, checked against `@remotion/captions` itself (its page builder must give pages
// whose tokens are our words, in order) and against the broadcast rules for SRT/VTT.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createTikTokStyleCaptions } = require('@remotion/captions');
const { makeHome, runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const { listFiles, parseSrt } = require('./support/voice.js');
const hf = require('../lib/index.js');

const TEXT =
  'Local engines run on your own computer, and every word gets a time from the model itself. ' +
  'Numbers like three fifty are read out; quotes and brackets too. Then a long clause without any ' +
  'punctuation keeps going until the line is more than full and must wrap onto the next line. Done!';

/** Words of TEXT at 0.21 s each, with a 1.2 s pause after the first sentence. */
function words() {
  let t = 0.1;
  return TEXT.split(' ').map((text, i) => {
    const w = { id: `w${i}`, text, start: +t.toFixed(3), end: +(t + 0.2).toFixed(3) };
    t += text === 'itself.' ? 1.4 : 0.21;
    return w;
  });
}

let home;
before(() => {
  home = makeHome();
  fs.writeFileSync(path.join(home.dir, 'words.json'), JSON.stringify({ ok: true, words: words() }));
});
after(() => home.cleanup());

const run = (args) => runCli(args, { home });
const file = (name) => path.join(home.dir, name);

function tokensOf(pages) {
  return pages.flatMap((p) => p.tokens.map((t) => t.text.trim()));
}

describe('Remotion', () => {
  test('--to remotion gives Caption[] that @remotion/captions pages into our words, in order', async () => {
    const r = await run(['captions', 'words.json', '--to', 'remotion', '-o', 'captions.json', '--json']);
    assert.equal(r.code, 0, r.output);
    assert.equal(parseJson(r.stdout).wordCount, words().length);
    const captions = JSON.parse(fs.readFileSync(file('captions.json'), 'utf8'));
    const ws = words();
    assert.equal(captions.length, ws.length);
    captions.forEach((c, i) => {
      assert.deepEqual(Object.keys(c).sort(), ['confidence', 'endMs', 'startMs', 'text', 'timestampMs']);
      assert.equal(c.text, ` ${ws[i].text}`, 'a leading space marks each word');
      assert.equal(c.startMs, Math.round(ws[i].start * 1000));
      assert.equal(c.endMs, Math.round(ws[i].end * 1000));
      assert.ok(c.timestampMs >= c.startMs && c.timestampMs <= c.endMs);
      assert.equal(c.confidence, null);
    });
    for (const combine of [0, 800, 1200, 5000]) {
      const { pages } = createTikTokStyleCaptions({ captions, combineTokensWithinMilliseconds: combine });
      assert.deepEqual(tokensOf(pages), ws.map((w) => w.text), `combine ${combine} ms`);
      if (combine === 0) assert.equal(pages.length, ws.length, 'every word is its own page');
    }
  });

  test('JS captions() returns the same Caption[] as the CLI', async () => {
    const captions = hf.captions(words(), { to: 'remotion' });
    const cli = JSON.parse((await run(['captions', 'words.json', '--to', 'remotion'])).stdout);
    assert.deepEqual(captions, cli);
    const { pages } = createTikTokStyleCaptions({ captions, combineTokensWithinMilliseconds: 1200 });
    assert.deepEqual(tokensOf(pages), words().map((w) => w.text));
  });
});

describe('ASS', () => {
  test('--to ass: a styled script with a \\k per word that adds up to each word', async () => {
    const r = await run(['captions', 'words.json', '-o', 'subs.ass']);
    assert.equal(r.code, 0, r.output);
    const ass = fs.readFileSync(file('subs.ass'), 'utf8');
    assert.match(ass, /^\[Script Info\]\n/);
    assert.match(ass, /\[V4\+ Styles\]\nFormat: Name, Fontname/);
    const dialogue = ass.split('\n').filter((l) => l.startsWith('Dialogue:'));
    assert.ok(dialogue.length > 2);
    const spoken = [];
    for (const line of dialogue) {
      const [, start] = /^Dialogue: 0,(\d+:\d\d:\d\d\.\d\d),/.exec(line);
      const cs = (t) => {
        const [h, m, s] = t.split(':');
        return Math.round((+h * 3600 + +m * 60 + +s) * 100);
      };
      let at = cs(start);
      const text = line.split(',,').pop();
      for (const [, k, word] of text.matchAll(/\{\\k(\d+)\}([^{]*)/g)) {
        const w = word.replace(/\\N/g, '').trim();
        if (w) {
          const expected = words()[spoken.length];
          assert.equal(w, expected.text);
          assert.equal(at, Math.round(expected.start * 100), `${w} lights up at its start`);
          spoken.push(w);
        }
        at += +k;
      }
    }
    assert.equal(spoken.length, words().length);
  });
});

describe('SRT and VTT by broadcast rules', () => {
  function cuesOf(args) {
    return run(['captions', 'words.json', ...args]).then((r) => {
      assert.equal(r.code, 0, r.output);
      return parseSrt(r.stdout);
    });
  }

  test('≤ 2 lines of ≤ 42, no overlaps, no zero length, every word once, breaks at sentences and pauses', async () => {
    const r = await run(['captions', 'words.json', '--to', 'srt']);
    assert.equal(r.code, 0, r.output);
    const blocks = r.stdout.trim().split('\n\n');
    let prevEnd = -1;
    const all = [];
    const ts = (s) => {
      const [h, m, rest] = s.split(':');
      return +h * 3600 + +m * 60 + +rest.replace(',', '.');
    };
    for (const b of blocks) {
      const [, times, ...lines] = b.split('\n');
      const [a, z] = times.split(' --> ').map(ts);
      assert.ok(z > a, `zero-length cue: ${b}`);
      assert.ok(a >= prevEnd, `overlap: ${b}`);
      prevEnd = z;
      assert.ok(lines.length <= 2 && lines.every((l) => l.length <= 42), b);
      all.push(...lines.join(' ').split(' '));
    }
    assert.deepEqual(all, TEXT.split(' '));
    assert.ok(blocks.some((b) => b.endsWith('itself.')), 'a cue closes at the sentence end before the pause');
  });

  test('line length, line count and reading speed are configurable', async () => {
    const r = await run(['captions', 'words.json', '--max-chars', '20', '--max-lines', '1', '--to', 'vtt']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /^WEBVTT\n\n/);
    const lines = r.stdout.split('\n').filter((l) => l && !l.includes('-->') && l !== 'WEBVTT');
    assert.ok(lines.every((l) => l.length <= 20), lines.join('\n'));
    const srt = await cuesOf(['--min-duration', '2']);
    assert.ok(srt.length > 0);
  });

  test('bad options and mismatched formats are refused, nothing written', async () => {
    for (const [args, code] of [
      [['--to', 'docx'], 'BAD_OUTPUT'],
      [['--to', 'ass', '-o', 'x.srt'], 'BAD_OUTPUT'],
      [['--max-chars', '0', '-o', 'x.srt'], 'BAD_INPUT'],
      [['--max-cps', '0', '-o', 'x.srt'], 'BAD_INPUT'],
    ]) {
      const r = await run(['captions', 'words.json', ...args, '--json']);
      assert.equal(r.code, 1, r.output);
      assert.equal(parseJson(r.stdout).code, code, r.stdout);
    }
    assert.deepEqual(listFiles(home.dir).filter((f) => f.startsWith('x.')), []);
    assert.throws(() => hf.captions(words(), { to: 'docx' }), (e) => e.code === 'BAD_OUTPUT');
    assert.throws(() => hf.captions([{ text: 'a', start: 2, end: 1 }]), (e) => e.code === 'BAD_INPUT');
  });
});
