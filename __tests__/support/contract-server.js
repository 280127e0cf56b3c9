'use strict';
// A contract server on 127.0.0.1 (ephemeral port) that plays both the HeyGen API
// (`GET /v3/users/me`) and the OAuth identity provider (authorize, token, revoke, device
// authorization). Every request is logged (method, path, query, headers, parsed body) so tests can
// assert what the client sent, and every route can be scripted per test with a FIFO queue of
// canned responses that run before the route's default behaviour.
//
// Response specs (queued with `server.queue(route, ...specs)`; a spec may also be a function
// `(req, server) => spec`, which sees the parsed request):
//   { status, json, body, headers, delayMs, truncate, destroy }
//   - json: serialised with content-type application/json
//   - body: raw body (a string, or a Buffer sent as is)
//   - truncate: declare a content-length larger than what is sent, send part, destroy the socket
//   - destroy: destroy the socket without any response
//   - trickle: answer 200 headers at once, then a 2 KB body one byte every 100 ms (stops when the
//     client goes away)
//   - stall: never answer (the socket stays open until the client goes away or the server stops)
//   - fallthrough: true → use the default behaviour (after delayMs)

const http = require('node:http');
const crypto = require('node:crypto');

const ROUTES = {
  me: 'GET /v3/users/me',
  authorize: 'GET /oauth/authorize',
  token: 'POST /oauth/token',
  revoke: 'POST /oauth/revoke',
  device: 'POST /oauth/device_authorization',
};

const CLIENT_ID = 'test-client';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function challengeOf(verifier) {
  return b64url(crypto.createHash('sha256').update(verifier).digest());
}

function defaultUser() {
  return {
    username: 'ada_l',
    email: 'ada@example.com',
    first_name: 'Ada',
    last_name: 'Lovelace',
    billing_type: 'subscription',
    wallet: { currency: 'USD', remaining_balance: 12.5 },
    subscription: {
      plan: 'Creator',
      credits: { premium_credits: { remaining: 42, resets_at: '2031-02-03T04:05:06Z' } },
    },
  };
}

class ContractServer {
  constructor() {
    this.server = http.createServer((req, res) => this._handle(req, res));
    this.sockets = new Set();
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.reset();
  }

  /** Clears the log, the scripts and the issued credentials. */
  reset() {
    this.log = [];
    this.queues = new Map();
    this.apiKeys = new Set();
    this.accessTokens = new Set();
    /** refresh token → true while valid */
    this.refreshTokens = new Set();
    /** code → { redirect_uri, client_id, challenge } */
    this.codes = new Map();
    this.authorizations = [];
    this.deviceCodes = new Set();
    this.issued = [];
    this.user = defaultUser();
    /** 'wrapped' (`{code, message, data}`) or 'unwrapped' */
    this.meShape = 'wrapped';
    /** When false, a refresh keeps the same refresh token and returns none. */
    this.rotateRefresh = true;
    this.tokenExpiresIn = 3600;
    this.tokenScope = 'openid profile email';
    /** Authorize behaviour: 'ok' | 'error' | 'wrong_state' | 'error_no_state' | 'error_wrong_state' | 'missing_code' */
    this.authorizeMode = 'ok';
    this.authorizeError = { error: 'access_denied', error_description: 'The user said no' };
    /** Fields merged into (or, when undefined, removed from) the device authorization reply. */
    this.deviceOverrides = {};
    this.counter = 0;
    this.problems = [];
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = this.server.address();
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Queue one-shot responses for a route ('me', 'token', … or 'METHOD /path'). */
  queue(route, ...specs) {
    const key = ROUTES[route] || route;
    if (!this.queues.has(key)) this.queues.set(key, []);
    this.queues.get(key).push(...specs);
    return this;
  }

  addApiKey(key) {
    this.apiKeys.add(key);
    return key;
  }

  addAccessToken(at) {
    this.accessTokens.add(at);
    return at;
  }

  addRefreshToken(rt) {
    this.refreshTokens.add(rt);
    return rt;
  }

  /** Requests for a route ('me', 'token', …), optionally filtered by a predicate. */
  requests(route, filter = () => true) {
    const key = ROUTES[route] || route;
    return this.log.filter((r) => `${r.method} ${r.path}` === key && filter(r));
  }

  /** A fresh token set; tokens are distinctive so leaks are easy to spot. */
  issueTokens({ refresh = true } = {}) {
    const n = ++this.counter;
    const rand = crypto.randomBytes(6).toString('hex');
    const access_token = `at_SECRETACCESS_${n}_${rand}`;
    const out = { access_token, expires_in: this.tokenExpiresIn, scope: this.tokenScope, token_type: 'Bearer' };
    this.accessTokens.add(access_token);
    if (refresh) {
      out.refresh_token = `rt_SECRETREFRESH_${n}_${rand}`;
      this.refreshTokens.add(out.refresh_token);
    }
    this.issued.push(out);
    return out;
  }

  // -------------------------------------------------------------------------------------------

  _handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, this.url);
      const entry = {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { ...req.headers },
        raw,
        body: parseBody(req.headers['content-type'], raw),
        at: Date.now(),
      };
      this.log.push(entry);
      const key = `${req.method} ${url.pathname}`;
      const q = this.queues.get(key);
      if (q && q.length) {
        let spec = q.shift();
        if (typeof spec === 'function') spec = spec(entry, this);
        if (spec && !spec.fallthrough) return this._send(res, spec);
        if (spec && spec.delayMs) {
          return setTimeout(() => this._default(key, entry, res), spec.delayMs);
        }
      }
      this._default(key, entry, res);
    });
  }

  _default(key, entry, res) {
    switch (key) {
      case ROUTES.me:
        return this._me(entry, res);
      case ROUTES.authorize:
        return this._authorize(entry, res);
      case ROUTES.token:
        return this._token(entry, res);
      case ROUTES.revoke:
        return this._send(res, { status: 200, json: {} });
      case ROUTES.device:
        return this._device(entry, res);
      default:
        return this._send(res, { status: 404, json: { error: 'not_found' } });
    }
  }

  _send(res, spec) {
    const go = () => {
      if (spec.stall) return;
      if (spec.trickle) {
        const total = 2048;
        res.writeHead(spec.status || 200, { 'content-type': 'application/json', 'content-length': String(total) });
        let sent = 0;
        const timer = setInterval(() => {
          if (res.destroyed || sent >= total) return clearInterval(timer);
          res.write(' ');
          sent += 1;
        }, 100);
        res.on('close', () => clearInterval(timer));
        return;
      }
      if (spec.destroy) {
        res.socket.destroy();
        return;
      }
      const headers = { ...(spec.headers || {}) };
      let body = '';
      if (spec.json !== undefined) {
        body = JSON.stringify(spec.json);
        headers['content-type'] = headers['content-type'] || 'application/json';
      } else if (spec.body !== undefined) {
        body = Buffer.isBuffer(spec.body) ? spec.body : String(spec.body);
      }
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      if (spec.truncate) {
        headers['content-length'] = String(buf.length + 4096);
        res.writeHead(spec.status || 200, headers);
        res.write(buf.subarray(0, Math.max(1, Math.floor(buf.length / 2))));
        setTimeout(() => res.socket && res.socket.destroy(), 50);
        return;
      }
      headers['content-length'] = String(buf.length);
      res.writeHead(spec.status || 200, headers);
      res.end(buf);
    };
    if (spec.delayMs) setTimeout(go, spec.delayMs);
    else go();
  }

  _me(entry, res) {
    const key = entry.headers['x-api-key'];
    const auth = entry.headers.authorization || '';
    const bearer = /^Bearer (.+)$/i.exec(auth);
    const presented = key !== undefined ? key : bearer ? bearer[1] : '';
    const ok = (key !== undefined && this.apiKeys.has(key)) || (bearer && this.accessTokens.has(bearer[1]));
    if (!ok) {
      // The body echoes the presented secret: the client must scrub it before printing.
      return this._send(res, {
        status: 401,
        json: { code: 401, message: `Unauthorized: credential ${presented} is not valid` },
      });
    }
    const data = JSON.parse(JSON.stringify(this.user));
    const json = this.meShape === 'unwrapped' ? data : { code: 100, message: 'ok', data };
    return this._send(res, { status: 200, json });
  }

  _authorize(entry, res) {
    const q = entry.query;
    const problems = [];
    if (q.response_type !== 'code') problems.push('response_type');
    if (q.client_id !== CLIENT_ID) problems.push('client_id');
    if (!/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback$/.test(q.redirect_uri || '')) problems.push('redirect_uri');
    if (q.code_challenge_method !== 'S256') problems.push('code_challenge_method');
    if (!q.code_challenge || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) problems.push('code_challenge');
    if (!q.state) problems.push('state');
    if (problems.length) {
      this.problems.push({ route: 'authorize', problems });
      return this._send(res, { status: 400, json: { error: 'invalid_request', fields: problems } });
    }
    const n = ++this.counter;
    const code = `code_SECRETCODE_${n}_${crypto.randomBytes(6).toString('hex')}`;
    this.codes.set(code, { redirect_uri: q.redirect_uri, client_id: q.client_id, challenge: q.code_challenge });
    this.authorizations.push({ state: q.state, challenge: q.code_challenge, redirect_uri: q.redirect_uri, code });
    const target = new URL(q.redirect_uri);
    switch (this.authorizeMode) {
      case 'error':
        for (const [k, v] of Object.entries(this.authorizeError)) target.searchParams.set(k, v);
        target.searchParams.set('state', q.state);
        break;
      case 'wrong_state':
        target.searchParams.set('code', code);
        target.searchParams.set('state', `${q.state}X`);
        break;
      case 'error_no_state':
        for (const [k, v] of Object.entries(this.authorizeError)) target.searchParams.set(k, v);
        break;
      case 'error_wrong_state':
        for (const [k, v] of Object.entries(this.authorizeError)) target.searchParams.set(k, v);
        target.searchParams.set('state', `${q.state}X`);
        break;
      case 'missing_code':
        target.searchParams.set('state', q.state);
        break;
      default:
        target.searchParams.set('code', code);
        target.searchParams.set('state', q.state);
    }
    res.writeHead(302, { location: target.toString(), 'content-length': '0' });
    res.end();
  }

  _token(entry, res) {
    const f = entry.body || {};
    const fail = (status, error, description) =>
      this._send(res, { status, json: { error, error_description: description } });
    if (f.client_id !== CLIENT_ID) return fail(401, 'invalid_client', `unknown client ${f.client_id}`);
    switch (f.grant_type) {
      case 'authorization_code': {
        const rec = this.codes.get(f.code);
        if (!rec) return fail(400, 'invalid_grant', `code ${f.code} is unknown (verifier ${f.code_verifier})`);
        this.codes.delete(f.code);
        if (rec.redirect_uri !== f.redirect_uri) return fail(400, 'invalid_grant', `redirect_uri mismatch for ${f.code}`);
        if (!f.code_verifier || challengeOf(f.code_verifier) !== rec.challenge) {
          return fail(400, 'invalid_grant', `PKCE verification failed: code_verifier=${f.code_verifier}`);
        }
        return this._send(res, { status: 200, json: this.issueTokens() });
      }
      case 'refresh_token': {
        if (!this.refreshTokens.has(f.refresh_token)) {
          return fail(400, 'invalid_grant', `refresh_token=${f.refresh_token} is not valid`);
        }
        if (this.rotateRefresh) {
          this.refreshTokens.delete(f.refresh_token);
          return this._send(res, { status: 200, json: this.issueTokens() });
        }
        const t = this.issueTokens({ refresh: false });
        return this._send(res, { status: 200, json: t });
      }
      case DEVICE_GRANT: {
        if (!this.deviceCodes.has(f.device_code)) {
          return fail(400, 'invalid_grant', `device_code ${f.device_code} is unknown`);
        }
        return this._send(res, { status: 200, json: this.issueTokens() });
      }
      default:
        return fail(400, 'unsupported_grant_type', String(f.grant_type));
    }
  }

  _device(entry, res) {
    const f = entry.body || {};
    if (f.client_id !== CLIENT_ID) {
      return this._send(res, { status: 401, json: { error: 'invalid_client' } });
    }
    const n = ++this.counter;
    const device_code = `dc_SECRETDEVICE_${n}_${crypto.randomBytes(6).toString('hex')}`;
    this.deviceCodes.add(device_code);
    const user_code = 'WDJB-MJHT';
    const reply = {
      device_code,
      user_code,
      verification_uri: `${this.url}/device`,
      verification_uri_complete: `${this.url}/device?user_code=${user_code}`,
      expires_in: 600,
      interval: 5,
    };
    for (const [k, v] of Object.entries(this.deviceOverrides)) {
      if (v === undefined) delete reply[k];
      else reply[k] = v;
    }
    this.lastDevice = reply;
    return this._send(res, { status: 200, json: reply });
  }
}

function parseBody(type, raw) {
  if (!raw) return null;
  if ((type || '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  if ((type || '').includes('json')) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

async function startServer() {
  const s = new ContractServer();
  await s.start();
  return s;
}

module.exports = { ContractServer, startServer, challengeOf, b64url, defaultUser, CLIENT_ID, DEVICE_GRANT, ROUTES };
