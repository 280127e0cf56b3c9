'use strict';
// Loads the addon. The common cases (a local build, or the installed platform package) skip the
// generated loader's platform probing, which costs more than the CLI's own work.
const path = require('node:path');
const fs = require('node:fs');

function direct() {
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return null;
  const abi = process.platform === 'linux' ? '-gnu' : process.platform === 'win32' ? '-msvc' : '';
  const triple = `${process.platform}-${process.arch}${abi}`;
  const local = path.join(__dirname, '..', `hyperframes.${triple}.node`);
  if (fs.existsSync(local)) return require(local);
  try {
    return require(`hyperframes-${triple}`);
  } catch {
    return null;
  }
}

module.exports = direct() || require('../index.js');
