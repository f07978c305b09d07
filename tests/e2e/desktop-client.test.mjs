// Desktop client suite: the real Tauri window (under Xvfb, through tauri-driver) as a team
// member's client of a separate `kyc-desk serve` whose review listener is HTTPS. Started with
// `--connect URL --fingerprint WRONG` it shows the refusal and opens nothing; with the right
// fingerprint typed in it connects through the pinned relay and decides a case Ditto ID waits
// on; Settings shows the pin and turns notifications off; "Change server…" and trust on first use
// show the server's fingerprint and ask. The computer keeps only its config file.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import * as flow from './flow.mjs';
import {
  BIN, Cleanup, Proc, SETUP_CODE_RE, T, addUser, delay, killTree, apiCase, apiLogin, ensureScreenshotDir, expectedFromPayload, makeTempDir,
  readPayloads, simulateResults, startServe, startSimulate, waitUntil, writeConfig,
} from './lib.mjs';
import { startDriver, which } from './desktop-env.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

const LIMIT = 5 * 60_000;
const ERIN = { name: 'erin', password: 'Orbit-Tamarind-Gable-58' };

describe('desktop client: the window connected to a team server over HTTPS', () => {
  const cleanup = new Cleanup();
  let failures = 0;
  const check = (name, fn) =>
    test(name, { timeout: LIMIT }, async () => {
      try {
        await fn();
      } catch (e) {
        if (ui && shots) {
          const file = join(shots, `desktop-client-failed-${++failures}.png`);
          await ui.screenshot(file).then(() => (e.message += `\n(screenshot: ${file})`), () => {});
        }
        throw e;
      }
    });
  let dir, serverConfig, server, review, fingerprint, clientDir, clientConfig, xdgData, wd, ui, shots;
  const wrong = 'AB:'.repeat(31) + 'CD';
  /** The connect screen as the window shows it. */
  const connectScreen = () =>
    ui.js(() => {
      const q = (id) => document.querySelector(`[data-testid="${id}"]`);
      return {
        protocol: location.protocol,
        shown: !!q('connect-screen'),
        // (Not "error": a WebDriver client reads an "error" key in the value as a failed command.)
        refusal: q('connect-error') ? { code: q('connect-error').getAttribute('data-code'), text: q('connect-error').textContent } : null,
        server: q('server-url')?.value ?? null,
        fingerprint: q('server-fingerprint')?.value ?? null,
        tofu: q('tofu-fingerprint')?.textContent ?? null,
      };
    });
  const clientFiles = async () => (await readdir(clientDir)).sort();

  before(async () => {
    for (const tool of ['tauri-driver', 'WebKitWebDriver', 'xvfb-run', 'dbus-run-session']) {
      assert.ok(which(tool), `${tool} must be installed (scripts/e2e.sh installs it)`);
    }
    dir = cleanup.dir(await makeTempDir('kyc-e2e-client-'));
    const serverDir = join(dir, 'server');
    let dataDir;
    ({ path: serverConfig, dataDir } = await writeConfig(await mkdirp(serverDir), { reviewTls: true }));
    await addUser(serverConfig, ERIN.name, ERIN.password, 'reviewer');
    server = await startServe(serverConfig, cleanup);
    fingerprint = (await server.proc.waitFor(/TLS certificate:\s+SHA-256 (\S+)/, T.start))[1];
    review = { origin: `https://${server.review}`, ca: await readFile(join(dataDir, 'tls-cert.pem'), 'utf8') };
    clientDir = await mkdirp(join(dir, 'client'));
    clientConfig = join(clientDir, 'kyc-desk.toml');
    xdgData = join(dir, 'xdg', 'data');
    shots = await ensureScreenshotDir('desktop-client');
    let driverProc;
    ({ driverProc, wd } = await startDriver(dir, cleanup, {}));
    try {
      await wd.newSession({
        alwaysMatch: {
          'tauri:options': {
            application: BIN,
            args: ['--config', clientConfig, '--connect', `https://${server.review}`, '--fingerprint', wrong],
          },
        },
      });
    } catch (e) {
      e.message += `\n${driverProc.describe()}`;
      throw e;
    }
    ui = wd.adapter();
  }, { timeout: LIMIT });

  after(async () => {
    await wd?.deleteSession().catch(() => {});
    await cleanup.run();
  }, { timeout: LIMIT });

  check('a wrong fingerprint: the window shows the refusal naming both fingerprints and opens no desk', async () => {
    const s = await waitUntil(async () => {
      const c = await connectScreen();
      return c.shown && c.refusal ? c : null;
    }, { timeout: T.start, what: 'the connect screen with its refusal' });
    assert.equal(s.refusal.code, 'certificate_mismatch', s.refusal.text);
    assert.ok(s.refusal.text.includes(fingerprint) && s.refusal.text.includes(wrong), s.refusal.text);
    assert.match(s.refusal.text, /Nothing was sent/);
    assert.equal(s.protocol, 'tauri:', 'the window shows its own page: no relay to the server was opened');
    assert.equal(s.server, `https://${server.review}`, 'the server is filled in');
    await ui.click('server-url'); // a window nobody touched hangs WebKitWebDriver's screenshot
    await ui.screenshot(join(shots, 'desktop-client-refused.png'));
    assert.deepEqual(await clientFiles(), ['kyc-desk.toml'], 'only the config on this computer');
  });

  check('the right fingerprint: the window connects through the pinned relay, and a case Ditto ID waits on is decided from it', async () => {
    await ui.type('server-fingerprint', fingerprint.toLowerCase().replaceAll(':', ''));
    await ui.click('connect-button');
    await flow.login(ui, ERIN.name, ERIN.password);
    const loc = await ui.js(() => location.origin);
    assert.match(loc, /^http:\/\/127\.0\.0\.1:\d+$/, `the window shows the relay on loopback: ${loc}`);
    const config = await readFile(clientConfig, 'utf8');
    assert.ok(config.includes(`fingerprint = "${fingerprint}"`), `the pin is kept:\n${config}`);

    const payloads = join(dir, 'payloads');
    const sim = startSimulate(serverConfig, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 717, payloadDir: payloads, name: 'simulate-client' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    const row = await flow.waitHeldRow(ui, exp.requesterId);
    await ui.screenshot(join(shots, 'desktop-client-queue.png'));
    await flow.selectByKeyboard(ui, exp.requesterId);
    await flow.openSelected(ui, row.reference);
    await flow.checkCaseShowsPayload(ui, exp);
    await ui.screenshot(join(shots, 'desktop-client-case.png'));
    await flow.approveByKeyboard(ui, row.reference, ERIN.name);
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    assert.deepEqual(simulateResults(sim.out), [{ result: 'true', reference: row.reference, userId: exp.userId }], sim.describe());
    const c = await apiCase(review, await apiLogin(review, ERIN.name, ERIN.password), exp.requesterId);
    assert.equal(c.answer?.by, 'reviewer');
  });

  check('a case Ditto ID waits on arrives while the window is not in front: a native notification names it with the time left, and clicking it opens the case', async () => {
    const log = join(dir, 'notifications.jsonl');
    // Another application takes the focus (on the window's X display).
    const thief = new Proc('/usr/bin/python3', [join(HERE, 'focus-thief.py')], { env: await appDisplay(clientConfig), name: 'focus-thief' });
    cleanup.child(thief.child);
    await thief.waitFor(/focused/, T.start, 'the other application to take the focus');
    await waitUntil(() => ui.js(() => !document.hasFocus()), { what: 'the desk window to lose the focus' });
    const payloads = join(dir, 'payloads-notify');
    const sim = startSimulate(serverConfig, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 718, payloadDir: payloads, name: 'simulate-notify' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    const row = await flow.waitHeldRow(ui, exp.requesterId);
    const shown = await waitUntil(async () => {
      const lines = existsSync(log) ? (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
      return lines.find((n) => n.summary?.includes(row.reference)) ?? null;
    }, { what: `a notification about ${row.reference}`, timeout: T.ui });
    assert.match(shown.summary, new RegExp(`^Ditto ID is waiting: ${row.reference} — \\d+ (s|min) left$`), shown.summary);
    assert.equal(shown.app, 'KYC Desk');
    // notifyd clicks it: the window opens that case.
    await flow.waitState(ui, (x) => x.caseView?.reference === row.reference, `the clicked notification's case ${row.reference} open`, T.ui);
    assert.equal(await ui.js(() => document.hasFocus()), true, 'the click brought the window to the front');
    await killTree(thief.child);
    await flow.approveByKeyboard(ui, row.reference, ERIN.name);
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
  });

  check('Settings shows the team server and its pinned fingerprint, and turns notifications off in the config', async () => {
    await ui.click('nav-settings');
    const here = await waitUntil(() => ui.js(() => {
      const m = document.querySelector('[data-testid="desktop-mode"]');
      const f = document.querySelector('[data-testid="desktop-fingerprint"]');
      return m && f ? { mode: m.textContent, fp: f.textContent } : null;
    }), { what: 'the "This computer" section of Settings' });
    assert.ok(here.mode.includes(`https://${server.review}`), here.mode);
    assert.equal(here.fp, fingerprint);
    await ui.click('desktop-notifications');
    await waitUntil(async () => (await readFile(clientConfig, 'utf8')).includes('notifications = false'), { what: 'notifications = false in the config' });
    await ui.js(() => document.querySelector('[data-testid="this-computer"]')?.scrollIntoView());
    await ui.screenshot(join(shots, 'desktop-client-settings.png'));
    // Off means off: a case arriving behind another application's window is not announced.
    const thief = new Proc('/usr/bin/python3', [join(HERE, 'focus-thief.py')], { env: await appDisplay(clientConfig), name: 'focus-thief-2' });
    cleanup.child(thief.child);
    await thief.waitFor(/focused/, T.start, 'the other application to take the focus');
    await waitUntil(() => ui.js(() => !document.hasFocus()), { what: 'the desk window to lose the focus' });
    const payloads = join(dir, 'payloads-quiet');
    const sim = startSimulate(serverConfig, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 719, payloadDir: payloads, name: 'simulate-quiet' });
    const [{ payload }] = await readPayloads(payloads, 1);
    await ui.click('nav-queue');
    const row = await flow.waitHeldRow(ui, expectedFromPayload(payload).requesterId);
    await delay(3000);
    const log = await readFile(join(dir, 'notifications.jsonl'), 'utf8');
    assert.ok(!log.includes(row.reference), `no notification with notifications off:\n${log}`);
    await killTree(thief.child);
    await waitUntil(() => ui.js(() => document.hasFocus()), { what: 'the desk window in front again' });
    await flow.selectByKeyboard(ui, row.requesterId);
    await flow.openSelected(ui, row.reference);
    await flow.approveByKeyboard(ui, row.reference, ERIN.name);
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    await ui.click('nav-settings');
  });

  check('Change server… goes back to the connect screen; trust on first use shows the server\'s fingerprint and connects once trusted', async () => {
    // After the driver's answer: the click navigates the window to its own page.
    await clickChangeServer(ui);
    await waitUntil(async () => (await connectScreen()).shown, { what: 'the connect screen', timeout: T.start });
    const s = await connectScreen();
    assert.equal(s.fingerprint, fingerprint, 'the pinned fingerprint is shown');
    await ui.type('server-fingerprint', ' ');
    await ui.js(() => {
      const f = document.querySelector('[data-testid="server-fingerprint"]');
      f.value = '';
      f.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await ui.click('connect-button');
    const tofu = await waitUntil(async () => (await connectScreen()).tofu, { what: 'the fingerprint to trust', timeout: T.start });
    assert.equal(tofu.trim(), fingerprint, 'the fingerprint the server presents, as its serve printed it');
    await ui.click('server-url'); // a freshly loaded page must be touched before a screenshot
    await ui.screenshot(join(shots, 'desktop-client-tofu.png'));
    await ui.click('tofu-trust');
    // The same server again: the session cookie (per host, not per port) may still sign in.
    const back = await flow.waitState(ui, (x) => x.present.queue || x.present['login-form'], 'the team\'s desk again', T.start);
    if (!back.present.queue) await flow.login(ui, ERIN.name, ERIN.password);
    await flow.waitState(ui, (x) => x.present.queue && x.live === 'live', 'the queue, live', T.start);
    const config = await readFile(clientConfig, 'utf8');
    assert.ok(config.includes(`fingerprint = "${fingerprint}"`) && config.includes('notifications = false'), config);
  });

  check('this computer holds no receiver, store or key: only its config file', async () => {
    assert.deepEqual(await clientFiles(), ['kyc-desk.toml']);
    const appData = join(xdgData, 'com.kycdesk.desk');
    const inAppData = existsSync(appData) ? await readdir(appData) : [];
    // (The web engine keeps its own caches there; none of KYC Desk's files.)
    for (const f of ['kyc-desk.sqlite3', 'master.key', 'oauth2-signing.key', 'tls-cert.pem', 'tls-key.pem', 'images', 'audit-checkpoints']) {
      assert.ok(!inAppData.includes(f), `${f} in ${appData}: ${inAppData}`);
    }
  });

  check('"Start a desk here" on the connect screen makes this computer a desk of its own: a first start\'s safe config, the setup code filled in', async () => {
    await ui.click('nav-settings');
    await clickChangeServer(ui);
    await waitUntil(async () => (await connectScreen()).shown, { what: 'the connect screen', timeout: T.start });
    await ui.click('server-url');
    await ui.js(() => {
      setTimeout(() => document.querySelector('[data-testid="start-local"]').click(), 0);
      return true;
    });
    const s = await flow.waitState(ui, (x) => x.present['setup-form'], 'the first-run setup of this computer\'s own desk', T.start);
    assert.match(s.setupCode ?? '', SETUP_CODE_RE, 'the window hands the setup code over');
    const config = await readFile(clientConfig, 'utf8');
    assert.doesNotMatch(config, /^(server|fingerprint)\s*=/m, 'the team server is forgotten');
    assert.match(config, /mode = "oauth2"/, 'first-start defaults (not the plain ones)');
    assert.match(config, /notifications = false/, 'the notification setting is kept');
  });
});

/**
 * Clicks Settings' "Change server…" once Settings shows it (on a loaded machine the page may
 * still be rendering). The click itself runs after the driver's answer: it navigates the window
 * to its own page, which a WebDriver click would wait on.
 */
async function clickChangeServer(ui) {
  await waitUntil(() => ui.js(() => document.querySelector('[data-testid="change-server"]') !== null), {
    what: 'Settings\u2019 Change server\u2026 button',
    timeout: T.start,
  });
  await ui.js(() => {
    setTimeout(() => document.querySelector('[data-testid="change-server"]').click(), 0);
    return true;
  });
}

/** The X display (and its auth file) of the app whose command line names `config` (xvfb-run picked them). */
async function appDisplay(config) {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(config)) continue;
      const env = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      const get = (k) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1);
      if (get('DISPLAY')) return { DISPLAY: get('DISPLAY'), XAUTHORITY: get('XAUTHORITY') ?? '' };
    } catch {
      /* gone, or not ours */
    }
  }
  throw new Error(`no process with ${config} and a DISPLAY`);
}

async function mkdirp(d) {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(d, { recursive: true });
  return d;
}
