'use strict';
// `hyperframes media build` with the real Kokoro model, offline: every line voiced in-process with
// word timings from the model, bundled sound effects, the manifest, and a rebuild that keeps the
// unchanged lines. Runs when HYPERFRAMES_TEST_MODELS_DIR points at the real models (skipped
// otherwise).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('../support/cli.js');
const { parseJson } = require('../support/setup.js');
const { SKIP_REAL, realModelsDir, parseWav, levels } = require('../support/voice.js');

const REAL = realModelsDir();
const SAMPLES_PER_FRAME = 600;

let home;
before(() => {
  home = makeHome();
});
after(() => home.cleanup());

describe('media build with the real Kokoro model', () => {
  test('two lines, cues, a manifest; a rebuild keeps both lines; an edit re-voices one', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const out = path.join(home.dir, 'audio');
    const request = path.join(home.dir, 'request.json');
    const write = (second) =>
      fs.writeFileSync(
        request,
        JSON.stringify({
          voice: 'jm_kumo',
          lang: 'en-us',
          lines: [
            { id: 'intro', text: 'Ship videos from code.', sfx: ['whoosh'] },
            { id: 'outro', text: second, sfx: ['chime'] },
          ],
        }),
      );
    const build = async () => {
      const r = await runCli(['media', 'build', request, '--out', out, '--json', '--local-only'], {
        home,
        env: { HYPERFRAMES_MODELS_DIR: REAL },
        timeoutMs: 300_000,
      });
      assert.equal(r.code, 0, r.output);
      return parseJson(r.stdout);
    };

    write('Thanks for watching.');
    const m = await build();
    assert.equal(m.ok, true);
    assert.deepEqual(m.providers, { voice: ['kokoro'], music: null, sfx: ['bundled'] });
    for (const v of m.voices) {
      const wav = parseWav(fs.readFileSync(path.join(out, v.path)));
      assert.equal(wav.sampleRate, 24000);
      assert.equal(wav.frames % SAMPLES_PER_FRAME, 0, 'whole model frames');
      assert.ok(levels(wav.samples).rms > 0.01, `${v.id} is not silent`);
      assert.equal(v.duration_s, Math.round((wav.frames / 24000) * 1000) / 1000);
      const starts = v.words.map((w) => w.start);
      assert.ok(starts.every((s, i) => i === 0 || s > starts[i - 1]), 'word starts increase');
      assert.ok(v.words.at(-1).end <= v.duration_s + 0.001);
    }
    assert.deepEqual(m.voices[0].words.map((w) => w.text.replace(/[.,]/g, '')), ['Ship', 'videos', 'from', 'code']);
    assert.deepEqual(m.sfx.map((s) => s.source_name), ['whoosh', 'chime']);

    const again = await build();
    assert.deepEqual(again.voices.map((v) => v.reused), [true, true]);
    assert.deepEqual(again.voices.map((v) => v.words), m.voices.map((v) => v.words));

    write('See you next time.');
    const edited = await build();
    assert.deepEqual(edited.voices.map((v) => v.reused), [true, false]);
    assert.notEqual(edited.voices[1].duration_s, 0);
  });
});
