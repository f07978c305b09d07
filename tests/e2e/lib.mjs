// Shared helpers of the end-to-end UI suites: temp dirs, a kyc-desk config, accounts,
// `kyc-desk serve`, `kyc-desk simulate` (playing Ditto ID), payload reading, waiting, cleanup.
//
// Every child process is registered with a Cleanup and killed (its whole process group) at the end
// of the suite, also when a test fails.

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.KYC_DESK_BIN || join(REPO, 'target', 'debug', 'kyc-desk');
// Empty: the binary serves the UI embedded at build time (what users get); set it to serve ui/dist.
export const UI_DIR = process.env.KYC_DESK_UI_DIR ?? '';
export const SCREENSHOTS = join(REPO, 'target', 'screenshots');

/** Generous timeouts: the machine is small (2 cores) and the debug binary is slow. */
export const T = {
  start: 60_000, // a process printing its listening lines
  appear: 60_000, // a case showing up in the queue
  ui: 30_000, // a UI element reacting to a key or a click
  answer: 60_000, // simulate printing its result after the decision
};

// ---------------------------------------------------------------------------------------------
// Waiting

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves with `promise`'s value, or with `fallback` after `ms` (the timer is cleared). */
export async function within(promise, ms, fallback = null) {
  let timer;
  const t = new Promise((r) => (timer = setTimeout(() => r(fallback), ms)));
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or `timeout` passes; then throws
 * with `what` and the last value or error seen. Polling, not sleeping: it returns as soon as the
 * condition holds.
 */
export async function waitUntil(fn, { timeout = T.ui, interval = 200, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${detail})`);
    }
    await delay(interval);
  }
}

// ---------------------------------------------------------------------------------------------
// Temp dirs, ports, config

export async function makeTempDir(prefix = 'kyc-e2e-') {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A TCP port that was free a moment ago on 127.0.0.1 (bind port 0, read it, close). */
export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/**
 * Writes the suite's kyc-desk config into `dir` and returns its path: auth none, no encryption,
 * Ditto ID held 60 s then rejected, both listeners on loopback (port 0 unless given), data in
 * `dir/data`.
 */
export async function writeConfig(dir, { receiverListen = '127.0.0.1:0', reviewListen = '127.0.0.1:0', holdSecs = 60, reviewTls = false, reviewExtra = '', decisionExtra = '' } = {}) {
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  const toml = `# written by tests/e2e/lib.mjs
data_dir = ${JSON.stringify(dataDir)}

[receiver]
listen = ${JSON.stringify(receiverListen)}
path = "/kyc"

[receiver.auth]
mode = "none"

[receiver.request_encryption]
enable = false

[receiver.response_encryption]
enable = false

[decision]
hold_secs = ${holdSecs}
on_timeout = "reject"
auto_approve = "never"
${decisionExtra}
[review]
listen = ${JSON.stringify(reviewListen)}
${reviewTls ? 'tls = true\n' : ''}${reviewExtra}`;
  const path = join(dir, 'kyc-desk.toml');
  await writeFile(path, toml);
  return { path, dataDir };
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Collects what must be ended when a suite finishes: child processes (killed with their process
 * group, SIGTERM then SIGKILL) and temp dirs.
 */
// Process groups started by this test process and not yet ended: if the test process itself is
// interrupted (Ctrl-C, the runner's timeout), they are killed on the way out, since as group
// leaders they do not get the terminal's signals.
const liveGroups = new Set();
function killLiveGroups() {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  liveGroups.clear();
}
process.once('exit', killLiveGroups);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killLiveGroups();
    process.exit(130);
  });
}

export class Cleanup {
  constructor() {
    this.children = [];
    this.dirs = [];
  }
  child(proc) {
    this.children.push(proc);
    return proc;
  }
  dir(path) {
    this.dirs.push(path);
    return path;
  }
  async run({ keepDirs = !!process.env.KYC_E2E_KEEP } = {}) {
    for (const c of this.children.reverse()) await killTree(c);
    this.children = [];
    if (!keepDirs) {
      // Retries: a FUSE mount of the desktop session's document portal may take a moment to go.
      for (const d of this.dirs) {
        await rm(d, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 }).catch((e) =>
          process.stderr.write(`cleanup: could not remove ${d}: ${e.message}\n`),
        );
      }
    }
    this.dirs = [];
  }
}

function alive(proc) {
  return proc.exitCode === null && proc.signalCode === null;
}

/** Ends one child we started, and the process group it leads (spawned with detached: true). */
export async function killTree(proc, graceMs = 5000) {
  if (!proc || proc.pid === undefined) return;
  const signal = (sig) => {
    try {
      process.kill(-proc.pid, sig); // the group led by our child
    } catch {
      try {
        process.kill(proc.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  if (!alive(proc)) {
    signal('SIGKILL'); // leftovers of the group, if any
    return;
  }
  const exited = new Promise((r) => proc.once('exit', r));
  signal('SIGTERM');
  const done = await within(exited.then(() => true), graceMs, false);
  if (!done) {
    signal('SIGKILL');
    await within(exited, graceMs);
  } else {
    signal('SIGKILL');
  }
}

/**
 * A started child with its output collected: `out` (stdout), `err` (stderr), `exit` (a promise of
 * {code, signal}), `waitFor(regex, timeout)` on stdout.
 */
export class Proc {
  constructor(cmd, args, { env = {}, cwd = REPO, stdin = 'ignore', name = cmd } = {}) {
    this.name = name;
    this.out = '';
    this.err = '';
    this.child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', ...env },
      stdio: [stdin, 'pipe', 'pipe'],
      detached: true, // own process group, so cleanup can end everything it started
    });
    if (this.child.pid !== undefined) {
      liveGroups.add(this.child.pid);
      this.child.once('exit', () => {
        // The leader is gone; end what is left of its group now, then forget it.
        try {
          process.kill(-this.child.pid, 'SIGKILL');
        } catch {
          /* nothing left */
        }
        liveGroups.delete(this.child.pid);
      });
    }
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d) => {
      this.out += d;
      if (process.env.KYC_E2E_VERBOSE) process.stderr.write(`[${this.name}] ${d}`);
    });
    this.child.stderr.on('data', (d) => {
      this.err += d;
      if (process.env.KYC_E2E_VERBOSE) process.stderr.write(`[${this.name}!] ${d}`);
    });
    this.exit = new Promise((res) => {
      this.child.on('error', (e) => {
        this.err += `\n(spawn error: ${e.message})`;
        res({ code: null, signal: null, error: e });
      });
      this.child.on('exit', (code, signal) => res({ code, signal }));
    });
    this.exited = null;
    this.exit.then((x) => (this.exited = x));
  }
  /** Waits for stdout to match `re`; fails early if the process exits first. */
  async waitFor(re, timeout, what = `${this.name} to print ${re}`) {
    let m;
    await waitUntil(
      () => {
        m = this.out.match(re);
        if (m) return true;
        if (this.exited) {
          throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}) before printing ${re}`);
        }
        return false;
      },
      { timeout, what, interval: 100 },
    );
    return m;
  }
  /** Waits for the process to end, at most `timeout` ms. */
  async waitExit(timeout) {
    const r = await within(this.exit, timeout, null);
    if (!r) throw new Error(`${this.name} did not exit within ${timeout} ms`);
    return r;
  }
  describe() {
    return `--- ${this.name} stdout ---\n${this.out.slice(-4000)}\n--- ${this.name} stderr ---\n${this.err.slice(-4000)}`;
  }
}

/**
 * `kyc-desk user add NAME --role admin --password-stdin`. The password must pass the rule: at least
 * 12 characters and not easy to guess (zxcvbn score 3 or more), e.g. `Quiet-Harbor-Lantern-47`.
 */
export async function addUser(config, name, password, role = 'admin') {
  const p = new Proc(BIN, ['--config', config, 'user', 'add', name, '--role', role, '--password-stdin'], {
    stdin: 'pipe',
    name: 'user-add',
  });
  p.child.stdin.end(`${password}\n`);
  const r = await p.waitExit(T.start);
  if (r.code !== 0) throw new Error(`user add failed: ${JSON.stringify(r)}\n${p.describe()}`);
  return p;
}

/** The first-run setup code as `kyc-desk serve` prints it: 28 Crockford base32 symbols in groups of 4. */
export const SETUP_CODE_RE = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){6}$/;

/**
 * `kyc-desk serve --config FILE` (UI embedded, or from KYC_DESK_UI_DIR); resolves once both
 * `... listening on ADDR` lines are printed. Returns {proc, receiver, review} (host:port strings).
 * With `setupCode: true` (no account exists yet) it also waits for the line
 * `  Setup code:          XXXX-XXXX-…` and returns the code as `setupCode`.
 */
export async function startServe(config, cleanup, { uiDir = UI_DIR, setupCode = false } = {}) {
  const proc = new Proc(BIN, ['--config', config, 'serve'], {
    env: { KYC_DESK_UI_DIR: uiDir },
    name: 'serve',
  });
  cleanup.child(proc.child);
  try {
    const recv = await proc.waitFor(/^receiver listening on (\S+)\s*$/m, T.start);
    const rev = await proc.waitFor(/^review listening on (\S+)\s*$/m, T.start);
    const out = { proc, receiver: recv[1], review: rev[1] };
    if (setupCode) {
      const m = await proc.waitFor(/^\s*Setup code:\s+(\S+)\s*$/m, T.start, 'serve to print its "Setup code:" line');
      out.setupCode = m[1];
    }
    return out;
  } catch (e) {
    e.message += `\n${proc.describe()}`;
    throw e;
  }
}

/**
 * A setup code of the right form that is not `code`: one symbol changed (to a digit, so the
 * server's Crockford reading O→0, I/L→1 cannot map it back).
 */
export function wrongSetupCode(code) {
  const i = code.length - 1;
  return code.slice(0, i) + (code[i] === '7' ? '3' : '7');
}

/**
 * Starts `kyc-desk simulate` in the background (it waits for the desk's decision); the payload it
 * sends is saved into `payloadDir`.
 */
export function startSimulate(config, cleanup, { receiver, scenario = 'clean', seed = 1, count = 1, payloadDir, name = 'simulate' }) {
  const args = [
    '--config', config, 'simulate',
    '--url', `https://${receiver}/kyc`,
    '--count', String(count),
    '--scenario', scenario,
    '--seed', String(seed),
    '--parallel', String(count),
    '--save-payloads', payloadDir,
  ];
  const proc = new Proc(BIN, args, { name });
  cleanup.child(proc.child);
  return proc;
}

/** The payload(s) simulate saved: [{requesterId, payload}] (waits for the files to be written). */
export async function readPayloads(dir, count = 1) {
  const files = await waitUntil(
    async () => {
      const names = (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.json'));
      return names.length >= count ? names : null;
    },
    { timeout: T.start, what: `${count} payload file(s) in ${dir}` },
  );
  const out = [];
  for (const f of files.sort()) {
    // The file may be caught while being written: retry until it parses.
    const payload = await waitUntil(async () => JSON.parse(await readFile(join(dir, f), 'utf8')), {
      timeout: 10_000,
      what: `${f} to hold complete JSON`,
    });
    out.push({ requesterId: f.replace(/\.json$/, ''), payload });
  }
  return out;
}

/** What the case view must show, taken from a saved payload (the default payload v3.0). */
export function expectedFromPayload(payload) {
  const kyc = payload.kyc_info;
  const doc = kyc.document;
  const details = doc.identity_data_details['0'];
  const docNo = details.find((f) => f.field_name === 'Document number');
  if (!docNo) throw new Error('payload has no "Document number" in identity_data_details["0"]');
  const sv = docNo.field_details.field_source_and_values;
  const info = doc.document_info;
  const national = Object.entries(info.field_locales).filter(([code]) => code !== '0');
  const checks = doc.document_status.checks_performed;
  const checkImages = checks.flatMap((c, i) => c.check_detail.flatMap((d, j) =>
    ['etalon', 'actual'].filter((w) => d[`${w}_image`]).map((w) => `check-${i}-${j}-${w}`)));
  const hologram = checks.find((c) => c.check_name === 'Hologram').check_detail[0];
  return {
    appId: payload.request_info.app_id,
    portraitFrom: { V: 'visual zone', R: 'chip' }[info.document_images.portrait_image_source],
    nationalFields: national.flatMap(([code, language]) =>
      (doc.identity_data_details[code] ?? []).map((f) => `${f.field_name} (${language})`)),
    checkImages,
    hologramMatch: hologram.match_percentage,
    requesterId: payload.request_info.requester_id,
    userId: payload.request_info.user_id,
    faceScore: kyc.face_matcher_result.score,
    livenessScore: kyc.liveness_check.video.liveness_result.score,
    docNumberMrz: sv.M,
    docNumberVisual: sv.V,
    docNumberValue: docNo.field_details.field_value,
    imageSizes: {
      portrait_image: imageSize(doc.document_info.document_images.portrait_image),
      front_page: imageSize(doc.document_info.document_images.front_page),
      selfie: imageSize(kyc.liveness_check.video.autocapture_result.selfie_image),
    },
  };
}

/** Width and height of a base64 JPEG or PNG, read from its header. */
export function imageSize(b64) {
  const b = Buffer.from(b64, 'base64');
  if (b[0] === 0x89 && b.toString('latin1', 1, 4) === 'PNG') {
    return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) throw new Error(`JPEG: marker expected at ${i}`);
      const marker = b[i + 1];
      const len = b.readUInt16BE(i + 2);
      // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      }
      i += 2 + len;
    }
  }
  throw new Error('not a JPEG or PNG image');
}

// ---------------------------------------------------------------------------------------------
// The review API (contract.md), for checks behind the UI: who answered Ditto ID, with what reasons

/**
 * Where the review API is: `host:port` (plain HTTP on loopback) or `{origin: 'https://…', ca}`
 * for an HTTPS review listener whose certificate (PEM) the test trusts.
 */
const target = (review) => (typeof review === 'string' ? { origin: `http://${review}` } : review);

/** One HTTP(S) request: {status, headers, text}. */
export async function httpCall(review, method, path, { headers = {}, body, timeout = T.ui } = {}) {
  const { origin, ca } = target(review);
  if (!origin.startsWith('https:')) {
    const r = await fetch(`${origin}${path}`, { method, headers, body });
    return { status: r.status, headers: Object.fromEntries(r.headers), text: await r.text() };
  }
  const url = new URL(path, origin);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ca, checkServerIdentity: () => undefined }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(timeout, () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.end(body);
  });
}

const json = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON
  }
};

export async function apiLogin(review, username, password) {
  const r = await httpCall(review, 'POST', '/api/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (r.status !== 200) throw new Error(`POST /api/login: HTTP ${r.status} ${r.text}`);
  return JSON.parse(r.text).token;
}

/** `GET /api/setup` (no session needed): {needs_setup, code_required, receiver_url, ...}. */
export async function apiSetupStatus(review) {
  const r = await httpCall(review, 'GET', '/api/setup');
  if (r.status !== 200) throw new Error(`GET /api/setup: HTTP ${r.status}`);
  return JSON.parse(r.text);
}

/**
 * One review API call with a bearer token: resolves with {status, body} (body parsed as JSON when
 * it is JSON), whatever the status.
 */
export async function apiRequest(review, token, method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await httpCall(review, method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: json(r.text) };
}

/** The whole case of a requester_id, as GET /api/cases/{id} gives it. */
export async function apiCase(review, token, requesterId) {
  const get = async (path) => {
    const r = await apiRequest(review, token, 'GET', path);
    if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}`);
    return r.body;
  };
  const list = await get(`/api/cases?status=all&requester_id=${encodeURIComponent(requesterId)}`);
  const c = list.cases.find((x) => x.requester_id === requesterId);
  if (!c) throw new Error(`no case with requester_id ${requesterId}`);
  return get(`/api/cases/${c.id}`);
}

/** Parses simulate's answer lines: [{result: 'true'|'false', reference, userId}]. */
export function simulateResults(out) {
  return [...out.matchAll(/result=(\S+) reference_number=(\S+) user_id=(\S+)/g)].map((m) => ({
    result: m[1],
    reference: m[2],
    userId: m[3],
  }));
}

/** Creates target/screenshots/ and drops the failure screenshots `<prefix>-failed-*.png` of an earlier run. */
export async function ensureScreenshotDir(prefix) {
  await mkdir(SCREENSHOTS, { recursive: true });
  for (const f of await readdir(SCREENSHOTS)) {
    if (f.startsWith(`${prefix}-failed-`) && f.endsWith('.png')) await rm(join(SCREENSHOTS, f), { force: true });
  }
  return SCREENSHOTS;
}
