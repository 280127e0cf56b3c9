#!/usr/bin/env node
'use strict';
// The release's last step (see .github/workflows/release.yml): after `npm run artifacts` moved each
// target's addon into npm/<platform>/ and `node scripts/ort.js --all` put the ONNX Runtime library
// next to it, checks that every platform package is complete and in step, then publishes them and
// the root package. Provenance comes from NPM_CONFIG_PROVENANCE=true in the workflow.
//
//   node scripts/publish.js [--dry-run]
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, manifest, platforms } = require('./platforms.js');
const { sync, releaseManifest, writeJson } = require('./sync-versions.js');

function problems() {
  const found = sync({ write: false });
  const tag = process.env.GITHUB_REF_TYPE === 'tag' ? process.env.GITHUB_REF_NAME : null;
  if (tag && tag !== `v${manifest.version}`) found.push(`tag ${tag} does not match version ${manifest.version}`);
  for (const p of platforms()) {
    const files = JSON.parse(fs.readFileSync(path.join(p.dir, 'package.json'), 'utf8')).files;
    for (const file of files) {
      if (!fs.existsSync(path.join(p.dir, file))) found.push(`${path.relative(ROOT, p.dir)}/${file} is missing`);
    }
    if (p.ort && !files.includes(p.ort.file)) found.push(`${p.name} does not list ${p.ort.file} in files`);
  }
  return found;
}

function main(argv) {
  const dryRun = argv.includes('--dry-run');
  const found = problems();
  if (found.length) {
    for (const p of found) process.stderr.write(`not ready: ${p}\n`);
    return 1;
  }
  const publish = (dir) => {
    execFileSync('npm', ['publish', '--access', 'public', '--ignore-scripts', ...(dryRun ? ['--dry-run'] : [])], { cwd: dir, stdio: 'inherit' });
  };
  // Platform packages first: the root's optionalDependencies must resolve the moment it is public.
  for (const p of platforms()) {
    fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(p.dir, 'LICENSE'));
    publish(p.dir);
  }
  // Like napi-rs' pre-publish: the root is published with optionalDependencies on the packages
  // above; the file is put back afterwards so a dry run leaves the tree as it was.
  const rootManifest = path.join(ROOT, 'package.json');
  const original = fs.readFileSync(rootManifest);
  writeJson(rootManifest, releaseManifest());
  try {
    publish(ROOT);
  } finally {
    fs.writeFileSync(rootManifest, original);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
