#!/usr/bin/env node
'use strict';
// Keeps the release in step: every npm/<platform>/package.json at the root version (`--check`
// only reports, exit 1 when out of step; the `version` lifecycle script runs it to write).
// The root's optionalDependencies on the platform packages are added only to the manifest that is
// packed and published (releaseManifest): in the repository they would name packages the
// registry does not have yet, and `npm ci` would refuse the lockfile. napi-rs' `pre-publish` does
// the same.
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
  const root = readJson(path.join(ROOT, 'package.json'));
  const problems = [];
  if (root.optionalDependencies) problems.push('package.json: optionalDependencies belong only in the published manifest');
  for (const p of platforms()) {
    const file = path.join(p.dir, 'package.json');
    const pkg = readJson(file);
    if (pkg.name !== p.name) problems.push(`${path.relative(ROOT, file)}: name ${pkg.name}, expected ${p.name}`);
    if (pkg.version !== root.version) {
      problems.push(`${path.relative(ROOT, file)}: version ${pkg.version}, expected ${root.version}`);
      if (write) writeJson(file, { ...pkg, version: root.version });
    }
  }
  return problems;
}

/** The root manifest as published: every platform package an optional dependency at this version. */
function releaseManifest() {
  const root = readJson(path.join(ROOT, 'package.json'));
  const optionalDependencies = Object.fromEntries(
    platforms()
      .map((p) => [p.name, root.version])
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  return { ...root, optionalDependencies };
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  const problems = sync({ write: !check });
  for (const p of problems) process.stderr.write(`${check ? 'out of step' : 'fixed'}: ${p}\n`);
  process.exitCode = check && problems.length ? 1 : 0;
}

module.exports = { sync, releaseManifest, writeJson };
