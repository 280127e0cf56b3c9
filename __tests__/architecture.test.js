'use strict';
// The crate's imports flow one way: no two modules import each other, directly or round a loop.
// Modules are files under src/; an edge is a `crate::…` or `super::…` path in non-test code that
// names another module. A module and its own ancestors or descendants may refer to each other
// (a parent declares its children; children use their parent's items).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const SRC = path.join(__dirname, '..', 'src');

function modules() {
  const out = new Map();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.rs')) {
        let parts = path.relative(SRC, full).slice(0, -3).split(path.sep);
        if (['mod', 'lib', 'main'].includes(parts[parts.length - 1])) parts = parts.slice(0, -1);
        if (parts[parts.length - 1] === 'tests') continue;
        out.set(parts.join('::'), full);
      }
    }
  };
  walk(SRC);
  return out;
}

/** The file's code without its test module and without comments. */
function code(file) {
  let text = fs.readFileSync(file, 'utf8');
  const tests = /#\[cfg\(test\)\]\s*mod \w+\s*[{;]/.exec(text);
  if (tests) text = text.slice(0, tests.index);
  return text.replace(/\/\/[^\n]*/g, '');
}

function graph(mods) {
  const resolve = (segs) => {
    for (let n = segs.length; n >= 0; n--) {
      const key = segs.slice(0, n).join('::');
      if (mods.has(key)) return key;
    }
    return null;
  };
  const related = (a, b) => a === b || a.startsWith(`${b}::`) || b.startsWith(`${a}::`) || a === '' || b === '';
  const edges = new Map();
  for (const [mod, file] of mods) {
    const own = mod === '' ? [] : mod.split('::');
    const targets = new Set();
    for (const m of code(file).matchAll(/\b(crate|super)((?:::\w+)+)(::\{([^}]*)\})?/g)) {
      let segs = m[2].slice(2).split('::');
      let base = m[1] === 'crate' ? [] : own.slice(0, -1);
      while (segs[0] === 'super') {
        segs = segs.slice(1);
        base = base.slice(0, -1);
      }
      const full = [...base, ...segs];
      const paths = [full];
      for (const item of (m[4] || '').split(',')) {
        const name = item.trim().split(' as ')[0];
        if (name && name !== 'self') paths.push([...full, ...name.split('::')]);
      }
      for (const p of paths) {
        const target = resolve(p);
        if (target !== null && !related(mod, target)) targets.add(target);
      }
    }
    edges.set(mod, targets);
  }
  return edges;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(edges) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('no import cycles between the crate\'s modules', () => {
  const found = cycles(graph(modules()));
  assert.deepEqual(found, [], `modules that import each other: ${found.map((c) => c.join(' ↔ ')).join('; ')}`);
});

test('the cycle check sees a cycle (two modules importing each other)', () => {
  const edges = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['a'])],
    ['c', new Set(['a'])],
  ]);
  assert.deepEqual(cycles(edges), [['a', 'b']]);
});

test('the front ends are the only callers of the front ends', () => {
  const edges = graph(modules());
  const frontEnd = (m) => m === 'cli' || m.startsWith('cli::') || m === 'napi' || m.startsWith('napi::');
  const wrong = [];
  for (const [from, targets] of edges) {
    if (frontEnd(from)) continue;
    for (const to of targets) if (frontEnd(to)) wrong.push(`${from} → ${to}`);
  }
  assert.deepEqual(wrong, []);
});
