#!/usr/bin/env node
'use strict';
// Keeps the release in step: every npm/<platform>/package.json at the root version, and the root's
// optionalDependencies naming exactly those packages at that version. `--check` only reports
// (exit 1 when out of step); the `version` lifecycle script runs it to write.
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, platforms } = require('./platforms.js');

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The differences between the files and a release in step; with `write`, fixes them. */
function sync({ write }) {
  const rootFile = path.join(ROOT, 'package.json');
  const root = readJson(rootFile);
  const problems = [];
  const wanted = {};
  for (const p of platforms()) {
    wanted[p.name] = root.version;
    const file = path.join(p.dir, 'package.json');
    const pkg = readJson(file);
    if (pkg.name !== p.name) problems.push(`${path.relative(ROOT, file)}: name ${pkg.name}, expected ${p.name}`);
    if (pkg.version !== root.version) {
      problems.push(`${path.relative(ROOT, file)}: version ${pkg.version}, expected ${root.version}`);
      if (write) writeJson(file, { ...pkg, version: root.version });
    }
  }
  // Sorted by name, as npm writes them.
  const sorted = (deps) => JSON.stringify(Object.fromEntries(Object.entries(deps || {}).sort(([a], [b]) => a.localeCompare(b))));
  if (sorted(root.optionalDependencies) !== sorted(wanted)) {
    problems.push(`package.json: optionalDependencies ${JSON.stringify(root.optionalDependencies)}, expected ${JSON.stringify(wanted)}`);
    if (write) writeJson(rootFile, { ...root, optionalDependencies: JSON.parse(sorted(wanted)) });
  }
  return problems;
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const problems = sync({ write: !check });
  for (const p of problems) process.stderr.write(`${check ? 'out of step' : 'fixed'}: ${p}\n`);
  process.exitCode = check && problems.length ? 1 : 0;
}

module.exports = { sync };
