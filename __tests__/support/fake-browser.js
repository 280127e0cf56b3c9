'use strict';
// A stand-in for a web browser, run by the CLI as `$BROWSER <url>`: GETs the authorize URL,
// follows the 302 to the loopback callback with plain http.get, reads the page and exits 0.
// When FAKE_BROWSER_LOG is set, appends one JSON line describing what happened.

const http = require('node:http');
const fs = require('node:fs');

// The CLI may exit (closing its terminal) as soon as it has answered the callback; finish anyway.
process.on('SIGHUP', () => {});

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
  });
}

async function main() {
  const url = process.argv[2];
  const record = { url };
  try {
    const first = await get(url);
    record.authorizeStatus = first.status;
    if (first.status >= 300 && first.status < 400 && first.headers.location) {
      const next = new URL(first.headers.location, url).toString();
      record.location = next;
      const cb = await get(next);
      record.callbackStatus = cb.status;
      record.callbackHeaders = cb.headers;
      record.callbackBody = cb.body;
    } else {
      record.authorizeBody = first.body;
    }
  } catch (e) {
    record.error = String(e && e.message ? e.message : e);
  }
  if (process.env.FAKE_BROWSER_LOG) {
    fs.appendFileSync(process.env.FAKE_BROWSER_LOG, `${JSON.stringify(record)}\n`);
  }
  process.exit(0);
}

main();
