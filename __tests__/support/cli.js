'use strict';
// Runs the real CLI (`node bin/hyperframes.js …`) in a child process with an environment built
// from scratch: a temp HOME, a temp HEYGEN_CONFIG_DIR, the contract server as the HeyGen API and
// the identity provider. Never touches the real ~/.heygen.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'hyperframes.js');
const FAKE_BROWSER = path.join(__dirname, 'fake-browser.js');
const DEFAULT_TIMEOUT_MS = 90_000;

/** A fresh temp dir used as HOME, with the config dir at <home>/.heygen by default. */
function makeHome() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'hf-test-')));
  const configDir = path.join(dir, '.heygen');
  const credPath = path.join(configDir, 'credentials');
  const home = {
    dir,
    configDir,
    credPath,
    modelsDir: path.join(dir, 'models'),
    exists: () => fs.existsSync(credPath),
    readRaw: () => fs.readFileSync(credPath, 'utf8'),
    read: () => JSON.parse(fs.readFileSync(credPath, 'utf8')),
    /** Writes the credentials file (object → JSON with 2-space indent, string → verbatim). */
    write(content, { dirMode = 0o700, fileMode = 0o600 } = {}) {
      fs.mkdirSync(configDir, { recursive: true, mode: dirMode });
      fs.chmodSync(configDir, dirMode);
      const text = typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`;
      fs.writeFileSync(credPath, text, { mode: fileMode });
      fs.chmodSync(credPath, fileMode);
      return text;
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  return home;
}

/** The environment a run gets: nothing from the parent except PATH. */
function buildEnv({ server, home, env = {} } = {}) {
  const base = {
    PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
  };
  if (home) {
    base.HOME = home.dir;
    base.HEYGEN_CONFIG_DIR = home.configDir;
    base.HYPERFRAMES_MODELS_DIR = home.modelsDir;
  }
  if (server) {
    base.HEYGEN_API_URL = server.url;
    base.HYPERFRAMES_OAUTH_AUTHORIZE_URL = `${server.url}/oauth/authorize`;
    base.HYPERFRAMES_OAUTH_TOKEN_URL = `${server.url}/oauth/token`;
    base.HYPERFRAMES_OAUTH_REVOKE_URL = `${server.url}/oauth/revoke`;
    base.HYPERFRAMES_OAUTH_DEVICE_URL = `${server.url}/oauth/device_authorization`;
    base.HYPERFRAMES_OAUTH_CLIENT_ID = 'test-client';
  }
  const out = { ...base };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === null) delete out[k];
    else out[k] = String(v);
  }
  return out;
}

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Output as a person reads it: LF line ends, no colour codes. */
function normalise(s) {
  return s.replace(/\r\n/g, '\n').replace(/\r/g, '\n').replace(ANSI, '');
}

/**
 * Runs `hyperframes <args>`. Resolves `{code, stdout, stderr, output}` (output = stdout + stderr;
 * under `pty: true` both streams share the terminal and everything is in `stdout`).
 * - input: written to stdin (then stdin is closed, except under a pty where it stays open)
 * - pty: run under util-linux `script` so stdin/stdout/stderr are a real terminal
 * - ptyRedirect: shell redirections appended inside the pty (e.g. '</dev/null' → stdin not a TTY)
 * - onData(textSoFar, child): called as output arrives (normalised stdout + stderr)
 * - onSpawn(child): called once the process is started (to signal it from a test)
 */
function runCli(args, { server, home, env, input, pty = false, ptyRedirect = '', onData, onSpawn, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const fullEnv = buildEnv({ server, home, env });
  let cmd;
  let argv;
  if (pty) {
    const line = `${[process.execPath, BIN, ...args].map(shellQuote).join(' ')} ${ptyRedirect}`.trim();
    cmd = 'script';
    argv = ['-qefc', line, '/dev/null'];
  } else {
    cmd = process.execPath;
    argv = [BIN, ...args];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: fullEnv, cwd: home ? home.dir : ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const seen = (d) => onData && onData(normalise(stdout + stderr), child);
    child.stdout.on('data', (d) => {
      stdout += d;
      seen(d);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      seen(d);
    });
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hyperframes ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pty) {
        stdout = normalise(stdout);
        stderr = normalise(stderr);
      }
      resolve({ code: code === null ? `signal ${signal}` : code, stdout, stderr, output: stdout + stderr });
    });
    if (onSpawn) onSpawn(child);
    if (input !== undefined) child.stdin.write(input);
    if (!pty) child.stdin.end();
    else child.on('close', () => child.stdin.destroy());
  });
}

/** `BROWSER` value that runs the fake browser (the CLI appends the URL). */
function fakeBrowserCommand() {
  return `${process.execPath} ${FAKE_BROWSER}`;
}

/** Lines of a text, without a trailing empty line. */
function lines(s) {
  const l = s.replace(/\r\n/g, '\n').split('\n');
  if (l.length && l[l.length - 1] === '') l.pop();
  return l;
}

/** The `.node` addon exists (the build has run). */
function addonBuilt() {
  return fs.readdirSync(ROOT).some((f) => /^hyperframes\..*\.node$/.test(f));
}

module.exports = { ROOT, BIN, FAKE_BROWSER, makeHome, buildEnv, runCli, fakeBrowserCommand, lines, normalise, addonBuilt };
