// Browser suite: `kyc-desk serve` + Chromium (Playwright), driven by the keyboard like a reviewer.
// A real `kyc-desk simulate` plays Ditto ID and must receive the reviewer's decision.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import * as flow from './flow.mjs';
import {
  Cleanup, T, addUser, apiCase, apiLogin, ensureScreenshotDir, expectedFromPayload, makeTempDir,
  readPayloads, simulateResults, startServe, startSimulate, waitUntil, writeConfig,
} from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** A safety net only: every wait inside has its own, shorter timeout. */
const LIMIT = 5 * 60_000;
const USER = 'alice';
const PASSWORD = 'correct horse battery staple';

describe('browser: kyc-desk serve + Chromium', () => {
  const cleanup = new Cleanup();
  let failures = 0;
  /** A test with the safety timeout; a failure leaves a screenshot browser-failed-N.png. */
  const check = (name, fn) =>
    test(name, { timeout: LIMIT }, async () => {
      try {
        await fn();
      } catch (e) {
        if (ui && shots) {
          const file = join(shots, `browser-failed-${++failures}.png`);
          await ui.screenshot(file).then(() => (e.message += `\n(screenshot: ${file})`), () => {});
        }
        throw e;
      }
    });
  let dir, config, server, context, page, ui, shots;
  const pageErrors = [];
  let navigations = 0;
  let step = 'start';

  before(async () => {
    dir = cleanup.dir(await makeTempDir('kyc-e2e-browser-'));
    ({ path: config } = await writeConfig(dir));
    await addUser(config, USER, PASSWORD);
    server = await startServe(config, cleanup);
    shots = await ensureScreenshotDir('browser');
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
      ],
      viewport: { width: 1280, height: 800 },
      timeout: T.start,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(`${step}: ${e}`));
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });
    const sel = (id) => page.locator(`[data-testid="${id}"]`);
    ui = {
      js: (fn, ...args) => page.evaluate(`(${fn.toString()})(...${JSON.stringify(args)})`),
      press: (key) => page.keyboard.press(key),
      type: (id, text) => sel(id).fill(text, { timeout: T.ui }),
      click: (id) => sel(id).click({ timeout: T.ui }),
      screenshot: (file) => page.screenshot({ path: file }),
    };
  }, { timeout: LIMIT });

  after(async () => {
    await context?.close().catch(() => {});
    await cleanup.run();
  }, { timeout: LIMIT });

  check('signs in with the account made by `kyc-desk user add`', async () => {
    step = 'sign-in';
    await page.goto(`http://${server.review}/`, { timeout: T.start });
    await flow.login(ui, USER, PASSWORD);
  });

  check('a held clean case appears live, is opened by keyboard, shows the payload, and approving answers Ditto ID result=true', async () => {
    step = 'approve';
    const navsBefore = navigations;
    await page.evaluate(() => (window.__kycE2eNoReload = true));
    const payloads = join(dir, 'payloads-clean');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 101, payloadDir: payloads, name: 'simulate-clean' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);

    const row = await flow.waitHeldRow(ui, exp.requesterId);
    assert.equal(navigations, navsBefore, 'the case appeared without a navigation or reload');
    assert.equal(await page.evaluate(() => window.__kycE2eNoReload), true, 'same document: no reload');
    await flow.countdownTicks(ui, exp.requesterId);
    await page.screenshot({ path: join(shots, 'browser-queue.png') });

    await flow.selectByKeyboard(ui, exp.requesterId, { down: 'j', up: 'k' });
    await flow.openSelected(ui, row.reference);
    await flow.checkCaseShowsPayload(ui, exp);
    await page.screenshot({ path: join(shots, 'browser-case.png') });

    assert.equal(simulateResults(sim.out).length, 0, `Ditto ID has no answer before the decision:\n${sim.out}`);
    await flow.approveByKeyboard(ui, row.reference, USER, { cancelFirst: true });
    await page.screenshot({ path: join(shots, 'browser-approved.png') });
    await page.locator('[data-testid="decision-summary"]').screenshot({ path: join(shots, 'browser-summary.png'), timeout: T.ui });

    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    const exit = await sim.waitExit(T.answer);
    assert.deepEqual(simulateResults(sim.out), [{ result: 'true', reference: row.reference, userId: exp.userId }], sim.describe());
    assert.equal(exit.code, 0, sim.describe());

    const token = await apiLogin(server.review, USER, PASSWORD);
    const c = await apiCase(server.review, token, exp.requesterId);
    assert.equal(c.status, 'approved');
    assert.equal(c.answer?.result, true);
    assert.equal(c.answer?.by, 'reviewer', 'Ditto ID got the reviewer\'s answer (not the timeout)');
    await flow.rowNoLongerHeld(ui, exp.requesterId);
  });

  check('two held expired cases: arrows and j/k move between them, one is rejected with reason 1 (result=false), the other approved', async () => {
    step = 'reject';
    const payloads = join(dir, 'payloads-expired');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'expired', seed: 202, count: 2, payloadDir: payloads, name: 'simulate-expired' });
    const saved = await readPayloads(payloads, 2);
    const exps = saved.map((s) => expectedFromPayload(s.payload));
    for (const e of exps) await flow.waitHeldRow(ui, e.requesterId);

    // Reject the case that is NOT selected now, so the arrow keys have to move the selection.
    const s = await flow.snapshot(ui);
    const selectedId = s.rows.find((r) => r.selected === 'true')?.requesterId;
    const rejectExp = exps.find((e) => e.requesterId !== selectedId);
    const approveExp = exps.find((e) => e !== rejectExp);
    const rejectRow = s.rows.find((r) => r.requesterId === rejectExp.requesterId);
    const approveRow = s.rows.find((r) => r.requesterId === approveExp.requesterId);

    // Arrows to the other row, j/k back, arrows again: each step must move aria-selected.
    await flow.selectByKeyboard(ui, rejectExp.requesterId, { down: 'ArrowDown', up: 'ArrowUp' });
    await flow.selectByKeyboard(ui, approveExp.requesterId, { down: 'j', up: 'k' });
    await flow.selectByKeyboard(ui, rejectExp.requesterId, { down: 'ArrowDown', up: 'ArrowUp' });
    await flow.openSelected(ui, rejectRow.reference);
    await flow.checkCaseShowsPayload(ui, rejectExp);
    const reason = await flow.rejectByKeyboard(ui, rejectRow.reference, USER, { confirmShot: join(shots, 'browser-reject-confirm.png') });
    await page.screenshot({ path: join(shots, 'browser-rejected.png') });

    await waitUntil(() => simulateResults(sim.out).some((r) => r.reference === rejectRow.reference), {
      timeout: T.answer, what: `simulate to print the answer for ${rejectRow.reference}`,
    });
    const rejected = simulateResults(sim.out).find((r) => r.reference === rejectRow.reference);
    assert.equal(rejected.result, 'false', sim.describe());
    const token = await apiLogin(server.review, USER, PASSWORD);
    const rc = await apiCase(server.review, token, rejectExp.requesterId);
    assert.equal(rc.status, 'rejected');
    assert.equal(rc.answer?.by, 'reviewer', 'result=false came from the reviewer, not from on_timeout');
    assert.deepEqual(rc.decisions?.at(-1)?.reasons, [reason], 'the reason picked with "1" was recorded');

    // The other one, still held: back in the queue by keyboard, approved.
    await flow.rowNoLongerHeld(ui, rejectExp.requesterId);
    await flow.waitHeldRow(ui, approveExp.requesterId);
    await flow.selectByKeyboard(ui, approveExp.requesterId, { down: 'ArrowDown', up: 'ArrowUp' });
    await flow.openSelected(ui, approveRow.reference);
    await flow.approveByKeyboard(ui, approveRow.reference, USER);

    const exit = await sim.waitExit(T.answer);
    assert.equal(exit.code, 0, sim.describe());
    const results = simulateResults(sim.out).sort((a, b) => a.reference.localeCompare(b.reference));
    const expected = [
      { result: 'false', reference: rejectRow.reference, userId: rejectExp.userId },
      { result: 'true', reference: approveRow.reference, userId: approveExp.userId },
    ].sort((a, b) => a.reference.localeCompare(b.reference));
    assert.deepEqual(results, expected, sim.describe());
    const ac = await apiCase(server.review, token, approveExp.requesterId);
    assert.equal(ac.answer?.by, 'reviewer');
  });

  check('the page threw no uncaught errors', () => {
    assert.deepEqual(flow.countErrors(pageErrors), {}, 'uncaught errors in the page ("step: message": times)');
  });
});
