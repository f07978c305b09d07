// Desktop suite: the real Tauri window (`kyc-desk` with no subcommand) under Xvfb, driven through
// tauri-driver → WebKitWebDriver, through the same approve flow as the browser suite. The window
// starts on a fresh data dir (no account): its first-run screen has the setup code filled in.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as flow from './flow.mjs';
import {
  BIN, Cleanup, SETUP_CODE_RE, T, UI_DIR, apiCase, apiLogin, apiSetupStatus, delay, ensureScreenshotDir,
  waitUntil, expectedFromPayload, freePort, makeTempDir, readPayloads, simulateResults, startSimulate,
  writeConfig,
} from './lib.mjs';
import { startDriver, which } from './desktop-env.mjs';

/** A safety net only: every wait inside has its own, shorter timeout. */
const LIMIT = 5 * 60_000;
const USER = 'dana';
// The server's rule: 12+ characters and not easy to guess (zxcvbn score >= 3).
const PASSWORD = 'Maple-Circuit-Harbor-35';

describe('desktop: the Tauri window through tauri-driver', () => {
  const cleanup = new Cleanup();
  let failures = 0;
  /** A test with the safety timeout; a failure leaves a screenshot desktop-failed-N.png. */
  const check = (name, fn) =>
    test(name, { timeout: LIMIT }, async () => {
      try {
        await fn();
      } catch (e) {
        if (ui && shots) {
          const file = join(shots, `desktop-failed-${++failures}.png`);
          await ui.screenshot(file).then(() => (e.message += `\n(screenshot: ${file})`), () => {});
        }
        throw e;
      }
    });
  let dir, config, receiver, driverProc, wd, ui, shots, saveDir, reference;

  before(async () => {
    for (const tool of ['tauri-driver', 'WebKitWebDriver', 'xvfb-run', 'dbus-run-session']) {
      assert.ok(which(tool), `${tool} must be installed (scripts/e2e.sh installs it)`);
    }
    dir = cleanup.dir(await makeTempDir('kyc-e2e-desktop-'));
    // The app prints its receiver address on stdout, which tauri-driver does not pass on: the
    // receiver gets a port picked here (free a moment ago) so simulate can post to it.
    const port = await freePort();
    receiver = `127.0.0.1:${port}`;
    // No account is made: the window must offer the first-run setup with the code filled in.
    ({ path: config } = await writeConfig(dir, { receiverListen: receiver }));
    shots = await ensureScreenshotDir('desktop');

    // The save_file command writes here instead of asking in the native dialog.
    saveDir = join(dir, 'saved');
    await mkdir(saveDir, { recursive: true });
    ({ driverProc, wd } = await startDriver(dir, cleanup, { KYC_DESK_UI_DIR: UI_DIR, KYC_DESK_SAVE_DIR: saveDir }));
    try {
      await wd.newSession({
        alwaysMatch: {
          'tauri:options': { application: BIN, args: ['--config', config] },
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

  check('first run: the window shows the setup screen with the setup code already filled in (not typed); completing it signs in', async () => {
    await flow.recordPageErrors(ui);
    const s = await flow.waitState(ui, (x) => x.present['setup-form'], 'setup-form in a window on a fresh data dir', T.start);
    assert.match(s.setupCode ?? '', SETUP_CODE_RE, `setup-code is filled in by the window: "${s.setupCode}"`);
    const loc = await ui.js(() => ({ href: location.href, hash: location.hash }));
    assert.equal(loc.hash, '', `the code is taken out of the address (history.replaceState): ${loc.href.replace(/#.*/, '#…')}`);
    const review = new URL(loc.href).host;
    assert.equal((await apiSetupStatus(review)).needs_setup, true, 'no account yet');
    // WebKitWebDriver's screenshot hangs on a window nobody has touched yet under Xvfb: focus a field first.
    await ui.click('setup-username');
    await ui.screenshot(join(shots, 'desktop-setup.png'));

    const r = await flow.submitSetup(ui, { code: null, username: USER, password: PASSWORD });
    assert.equal(r.setupError, '', `setup with the handed-over code: setup-error "${r.setupError}"`);
    await flow.afterSetup(ui);
    assert.equal((await apiSetupStatus(review)).needs_setup, false, 'the first admin exists');
    await apiLogin(review, USER, PASSWORD);
  });

  check('a held clean case appears live in the window, is opened by keyboard, shows the payload, and approving answers Ditto ID result=true', async () => {
    const reviewOrigin = new URL((await flow.snapshot(ui)).url).host;
    await ui.js(() => {
      window.__kycE2eNoReload = true;
    });
    const payloads = join(dir, 'payloads-clean');
    const sim = startSimulate(config, cleanup, { receiver, scenario: 'clean', seed: 303, payloadDir: payloads, name: 'simulate-desktop' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);

    const row = await flow.waitHeldRow(ui, exp.requesterId);
    assert.equal(await ui.js(() => window.__kycE2eNoReload === true), true, 'the case appeared without a reload');
    await flow.countdownTicks(ui, exp.requesterId);
    await ui.screenshot(join(shots, 'desktop-queue.png'));

    await flow.selectByKeyboard(ui, exp.requesterId, { down: 'j', up: 'k' });
    await flow.openSelected(ui, row.reference);
    await flow.checkCaseShowsPayload(ui, exp);
    await ui.screenshot(join(shots, 'desktop-case.png'));

    assert.equal(simulateResults(sim.out).length, 0, `Ditto ID has no answer before the decision:\n${sim.out}`);
    await flow.approveByKeyboard(ui, row.reference, USER, { cancelFirst: true });

    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    const exit = await sim.waitExit(T.answer);
    assert.deepEqual(simulateResults(sim.out), [{ result: 'true', reference: row.reference, userId: exp.userId }], sim.describe());
    assert.equal(exit.code, 0, sim.describe());

    const token = await apiLogin(reviewOrigin, USER, PASSWORD);
    const c = await apiCase(reviewOrigin, token, exp.requesterId);
    assert.equal(c.answer?.by, 'reviewer', 'Ditto ID got the reviewer\'s answer (not the timeout)');
    await flow.rowNoLongerHeld(ui, exp.requesterId);
    reference = row.reference;
  });

  check('the case report is saved through the desktop save command as a PDF', async () => {
    assert.ok(reference, 'the approve test ran first');
    await ui.click('report-pdf');
    const file = join(saveDir, `${reference}.pdf`);
    await waitUntil(async () => (await readdir(saveDir)).includes(`${reference}.pdf`), { timeout: T.ui, what: `${file} to be saved` });
    const pdf = await readFile(file);
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    // The text as a PDF reader extracts it (the report's font is an embedded Unicode subset).
    const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
    assert.ok(text.includes(reference), `the reference is in the report text:\n${text}`);
    assert.ok(text.includes('Approved by dana'), 'the decision is in the report text');
  });

  check('the window cannot be navigated away from the desk', async () => {
    const origin = await ui.js(() => {
      window.__kycE2eStay = true;
      return location.origin;
    });
    // Run after the script returns, so the driver's answer does not race the navigation.
    await ui.js(() => {
      setTimeout(() => {
        location.href = 'http://127.0.0.1:9/elsewhere';
      }, 0);
      return true;
    });
    await delay(2000);
    const after = await waitUntil(
      () => ui.js(() => ({ origin: location.origin, stayed: window.__kycE2eStay === true, queue: !!document.querySelector('[data-testid="queue"]') })),
      { timeout: T.ui, what: 'the window to answer after the navigation attempt' },
    );
    assert.equal(after.origin, origin, 'the window still shows the desk\'s origin');
    assert.equal(after.stayed, true, 'the same document: the navigation was refused, not reloaded');
    assert.equal(after.queue, true, 'the desk is still there');
  });

  check('the window threw no uncaught errors', async () => {
    assert.deepEqual(flow.countErrors(await flow.pageErrors(ui)), {}, 'uncaught errors in the window (message: times)');
  });
});
