'use strict';
// Loads the addon. The common case (a local build or an installed platform package) skips the
// generated loader's platform probing, which costs more than the CLI's own work.
const path = require('node:path');
const fs = require('node:fs');

function direct() {
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return null;
  const abi = process.platform === 'linux' ? '-gnu' : process.platform === 'win32' ? '-msvc' : '';
  const file = path.join(__dirname, '..', `hyperframes.${process.platform}-${process.arch}${abi}.node`);
  return fs.existsSync(file) ? require(file) : null;
}

module.exports = direct() || require('../index.js');
