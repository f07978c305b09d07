// Browser suite: `kyc-desk serve` + Chromium (Playwright), driven by the keyboard like a reviewer.
// A real `kyc-desk simulate` plays Ditto ID and must receive the reviewer's decision. The first
// admin is made in the desk with the setup code serve prints (no account is made beforehand).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import * as flow from './flow.mjs';
import {
  Cleanup, SETUP_CODE_RE, T, addUser, apiCase, apiLogin, apiRequest, apiSetupStatus, ensureScreenshotDir,
  expectedFromPayload, freePort, killTree, makeTempDir, readPayloads, simulateResults, startServe, startSimulate, waitUntil,
  writeConfig, wrongSetupCode,
} from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** A safety net only: every wait inside has its own, shorter timeout. */
const LIMIT = 5 * 60_000;
// Passwords must pass the server's rule: 12+ characters and not easy to guess (zxcvbn score >= 3).
const USER = 'alice';
const PASSWORD = 'Quiet-Harbor-Lantern-47';
const REVIEWER = 'bob';
const REVIEWER_PASSWORD = 'Amber-Falcon-Ledger-83';
/** The account the admin disables and whose password is reset (made with `kyc-desk user add`). */
const OTHER = 'carol';
const OTHER_PASSWORD = 'Copper-Meadow-Violin-62';
const OTHER_TEMPORARY = 'Granite-Orchid-Ferry-58';
const OTHER_NEW = 'Velvet-Compass-Rain-71';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
];
/** A Chromium of its own (own profile, so own cookies: another person's desk). */
const launch = (profile) =>
  chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    timeout: T.start,
  });

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
  // Playwright helpers of the admin and reviewer tests (by data-testid, as in SELECTORS.md).
  const tid = (id) => page.locator(`[data-testid="${id}"]`);
  const text = async (loc) => ((await loc.textContent({ timeout: T.ui })) ?? '').replace(/\s+/g, ' ').trim();
  const attr = (loc, name) => loc.getAttribute(name, { timeout: T.ui });
  const waitAttr = (loc, name, want, what) =>
    waitUntil(async () => (await loc.count()) > 0 && (await attr(loc, name)) === want, { what: `${what}: ${name}="${want}"` });
  /** Clicks `testid` and returns the download it starts: {name, bytes}. */
  const downloadBy = async (id) => {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T.ui }), tid(id).click({ timeout: T.ui })]);
    return { name: dl.suggestedFilename(), bytes: await readFile(await dl.path()) };
  };
  /** A review API call that must succeed; its JSON body. */
  const apiOk = async (method, path, body, token) => {
    const r = await apiRequest(server.review, token, method, path, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const pageErrors = [];
  let navigations = 0;
  let step = 'start';

  before(async () => {
    dir = cleanup.dir(await makeTempDir('kyc-e2e-browser-'));
    // Fixed ports: the server is restarted under the open desk (the live-events test).
    ({ path: config } = await writeConfig(dir, {
      receiverListen: `127.0.0.1:${await freePort()}`,
      reviewListen: `127.0.0.1:${await freePort()}`,
    }));
    // No account: serve prints the one-time setup code the first admin needs.
    server = await startServe(config, cleanup, { setupCode: true });
    shots = await ensureScreenshotDir('browser');
    context = await launch(join(dir, 'chromium-profile'));
    // The flows below look at the decided case: no auto-advance unless a test turns it on.
    await context.addInitScript(() => {
      if (!localStorage.getItem('kyc-desk-auto-next')) localStorage.setItem('kyc-desk-auto-next', 'off');
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(`${step}: ${e}`));
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations += 1;
    });
    ui = uiFor(page);
  }, { timeout: LIMIT });

  /** The adapter flow.mjs drives a page through. */
  function uiFor(p) {
    const sel = (id) => p.locator(`[data-testid="${id}"]`);
    return {
      js: (fn, ...args) => p.evaluate(`(${fn.toString()})(...${JSON.stringify(args)})`),
      press: (key) => p.keyboard.press(key),
      type: (id, text) => sel(id).fill(text, { timeout: T.ui }),
      click: (id) => sel(id).click({ timeout: T.ui }),
      screenshot: (file) => p.screenshot({ path: file }),
    };
  }

  after(async () => {
    await context?.close().catch(() => {});
    await cleanup.run();
  }, { timeout: LIMIT });

  check('first run: a wrong setup code is refused and creates nothing; the code serve printed creates the admin, signed in', async () => {
    step = 'setup';
    assert.match(server.setupCode, SETUP_CODE_RE, `serve prints the setup code in groups of 4: ${server.setupCode}`);
    const status = await apiSetupStatus(server.review);
    assert.equal(status.needs_setup, true, 'no account yet');
    assert.equal(status.code_required, true, 'setup needs the code');
    await page.goto(`http://${server.review}/`, { timeout: T.start });
    await flow.waitState(ui, (x) => x.present['setup-form'], 'setup-form on a fresh desk', T.start);
    assert.equal((await flow.snapshot(ui)).setupCode, '', 'a browser gets no code handed over: the field is empty');
    assert.match(await text(tid('setup-form')), /kyc-desk serve/, 'the form says where the code comes from');

    const wrong = await flow.submitSetup(ui, { code: wrongSetupCode(server.setupCode), username: USER, password: PASSWORD });
    assert.ok(wrong.setupError, 'setup-error after a wrong code');
    assert.ok(wrong.present['setup-form'], 'the setup form stays');
    assert.equal((await apiSetupStatus(server.review)).needs_setup, true, 'a wrong code creates no account');
    const refused = await fetch(`http://${server.review}/api/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: USER, password: PASSWORD }),
    });
    assert.equal(refused.status, 401, `no account ${USER} after the wrong code`);

    const right = await flow.submitSetup(ui, { code: server.setupCode, username: USER, password: PASSWORD });
    assert.equal(right.setupError, '', `the printed code is accepted: ${right.setupError}`);
    await flow.afterSetup(ui);
    assert.equal((await apiSetupStatus(server.review)).needs_setup, false, 'the first admin exists');
    await apiLogin(server.review, USER, PASSWORD);
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
    // The decision's own response comes back after the reload that Ditto ID's answer causes (a
    // slow link, a busy machine): the case must go on showing the answer, not the older response.
    const decision = '**/api/cases/*/decision';
    await page.route(decision, async (route) => {
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 2000));
      await route.fulfill({ response });
    });
    try {
      await flow.approveByKeyboard(ui, row.reference, USER, { cancelFirst: true });
    } finally {
      await page.unroute(decision);
    }
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
    assert.deepEqual(rc.decisions?.at(-1)?.reasons, [reason], 'the reason picked (suggested by the expiry, or with "1") was recorded');
    assert.deepEqual(rc.suggested_reasons, ['document_expired'], 'an expired document suggests "Document expired"');

    // The other one, still held: back in the queue by keyboard, approved.
    await flow.rowNoLongerHeld(ui, rejectExp.requesterId);
    await flow.waitHeldRow(ui, approveExp.requesterId);
    await flow.selectByKeyboard(ui, approveExp.requesterId, { down: 'ArrowDown', up: 'ArrowUp' });
    await flow.openSelected(ui, approveRow.reference);
    await flow.approveByKeyboard(ui, approveRow.reference, USER, { mustOverride: true, overrideShot: join(shots, 'browser-override.png') });

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

  check('an admin downloads the PDF report, takes and assigns a case, reads the statistics, exports the CSV, verifies the audit trail and erases a decided case', async () => {
    step = 'admin';
    const admin = await apiLogin(server.review, USER, PASSWORD);
    const api = (method, path, body, token = admin) => apiOk(method, path, body, token);
    // A reviewer account, made through the API the settings page uses.
    await api('POST', '/api/users', { username: REVIEWER, role: 'reviewer', password: REVIEWER_PASSWORD });
    const bob = await apiLogin(server.review, REVIEWER, REVIEWER_PASSWORD);

    // A new held case, opened by a click on its row.
    const payloads = join(dir, 'payloads-admin');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 303, payloadDir: payloads, name: 'simulate-admin' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    const row = await flow.waitHeldRow(ui, exp.requesterId);
    const queueRow = page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`);
    await queueRow.click({ timeout: T.ui });
    await flow.waitState(ui, (x) => x.caseView?.reference === row.reference, `case-view data-reference=${row.reference}`);
    const caseId = (await apiCase(server.review, admin, exp.requesterId)).id;

    // The PDF report.
    const pdf = await downloadBy('report-pdf');
    assert.match(pdf.name, /\.pdf$/, `the report's file name ends with .pdf: ${pdf.name}`);
    assert.equal(pdf.bytes.subarray(0, 5).toString('latin1'), '%PDF-', 'the report is a PDF');
    assert.ok(pdf.bytes.length > 500, `the PDF has content (${pdf.bytes.length} bytes)`);
    await waitUntil(async () => /downloaded/i.test(await text(tid('report-status'))), { what: 'report-status to say it was downloaded' });

    // Assignment: take, hand to the reviewer, the reviewer gives it back (seen live), take again.
    const assignee = tid('assignee');
    await waitAttr(assignee, 'data-assignee', '', 'a new case is unassigned');
    assert.match(await text(assignee), /unassigned/i);
    await tid('take-case').click({ timeout: T.ui });
    await waitAttr(assignee, 'data-assignee', USER, 'Take assigns the case to the admin');
    await waitUntil(async () => (await text(queueRow.locator('[data-testid="row-assignee"]'))) === 'you', { what: 'the queue row to show "you"' });
    assert.equal(await tid('give-back').count(), 1, 'give-back is offered for one\'s own case');
    await tid('assign-select').selectOption(REVIEWER, { timeout: T.ui });
    await tid('assign-button').click({ timeout: T.ui });
    await waitAttr(assignee, 'data-assignee', REVIEWER, `Assign hands the case to ${REVIEWER}`);
    await waitUntil(async () => (await text(queueRow.locator('[data-testid="row-assignee"]'))) === REVIEWER, { what: `the queue row to show ${REVIEWER}` });
    assert.equal((await apiCase(server.review, admin, exp.requesterId)).assignee, REVIEWER, 'the server has the assignment');
    const refused = await apiRequest(server.review, bob, 'POST', `/api/cases/${caseId}/assign`, { to: 'nobody-else' });
    assert.equal(refused.status, 403, `a reviewer may not hand a case to someone else: ${JSON.stringify(refused)}`);
    await api('POST', `/api/cases/${caseId}/assign`, { to: null }, bob);
    await waitAttr(assignee, 'data-assignee', '', 'the give-back by the reviewer, shown live (case.assigned event)');
    await tid('take-case').click({ timeout: T.ui });
    await waitAttr(assignee, 'data-assignee', USER, 'Take again');
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await page.screenshot({ path: join(shots, 'browser-case-admin.png') });

    // Approve (keyboard), Ditto ID gets result=true.
    await flow.approveByKeyboard(ui, row.reference, USER);
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    assert.equal((await sim.waitExit(T.answer)).code, 0, sim.describe());
    assert.deepEqual(simulateResults(sim.out), [{ result: 'true', reference: row.reference, userId: exp.userId }], sim.describe());

    // Statistics: the tiles and the chart show what the server counts.
    step = 'stats';
    await tid('nav-stats').click({ timeout: T.ui });
    await tid('stats-page').waitFor({ timeout: T.ui });
    const stats = await api('GET', '/api/stats');
    assert.ok(stats.received >= 4, `the simulated cases are counted: ${JSON.stringify(stats)}`);
    await waitAttr(tid('tile-received'), 'data-value', String(stats.received), 'tile-received');
    assert.equal(await attr(tid('tile-pending'), 'data-value'), String(stats.pending), 'tile-pending');
    assert.equal(await attr(tid('tile-timeouts'), 'data-value'), String(stats.timeouts), 'tile-timeouts');
    assert.equal(Number(await attr(tid('tile-approval-rate'), 'data-value')), stats.approval_rate, 'tile-approval-rate');
    const big = (id) => text(tid(id).locator('strong'));
    assert.match(await big('tile-approval-rate'), /^\d+\.\d %$/, 'the approval rate reads as a percentage');
    assert.match(await big('tile-median'), /^(< )?\d+ (s|min|h|d)\b/, 'the median time reads as a duration');
    assert.match(await big('tile-p90'), /^(< )?\d+ (s|min|h|d)\b/, 'the 90th percentile reads as a duration');
    const chart = tid('chart-days');
    await chart.waitFor({ timeout: T.ui });
    const bars = await chart.evaluate((svg) => ({
      days: [...svg.querySelectorAll('g.day')].map((g) => ({ day: g.getAttribute('data-day'), received: Number(g.getAttribute('data-received')) })),
      segments: [...svg.querySelectorAll('rect.seg')].map((r) => r.getBBox().height),
    }));
    assert.equal(bars.days.length, stats.days.length, 'one bar per day of the range');
    assert.deepEqual(bars.days.filter((d) => d.received > 0), stats.days.filter((d) => d.received > 0).map((d) => ({ day: d.day, received: d.received })), 'the bars carry the server\'s daily counts');
    assert.ok(bars.segments.length > 0 && bars.segments.every((h) => h > 0), `the stacked bars are drawn: ${JSON.stringify(bars.segments)}`);
    const mine = stats.by_reviewer.find((r) => r.name === USER);
    assert.ok(mine && mine.decided >= 4, `the admin's decisions are counted: ${JSON.stringify(stats.by_reviewer)}`);
    await waitAttr(tid('by-reviewer').locator(`[data-testid="reviewer-row"][data-name="${USER}"]`), 'data-decided', String(mine.decided), 'by-reviewer row of the admin');

    // The decisions CSV, with its progress.
    const csv = await downloadBy('export-csv');
    assert.match(csv.name, /\.csv$/, `the export's file name ends with .csv: ${csv.name}`);
    const all = csv.bytes.toString('utf8').split(/\r?\n/).filter((l) => l !== '');
    assert.match(all[all.length - 1], /^# audit checkpoint #\d+ /, 'the CSV ends with the signed audit checkpoint');
    const lines = all.filter((l) => !l.startsWith('#'));
    assert.ok(lines[0].startsWith('decided_at,reference'), `the CSV header: ${lines[0]}`);
    assert.ok(lines.length - 1 >= 4, `one row per decision (at least the 4 made here): ${lines.length - 1}`);
    assert.ok(lines.some((l) => l.includes(row.reference)), 'the CSV lists the decision just made');
    const progress = tid('export-progress');
    await waitAttr(progress, 'data-rows', String(lines.length - 1), 'export-progress counts the rows');
    assert.equal(await attr(progress, 'data-total'), String(lines.length - 1), 'export-progress knows the total (X-Export-Rows)');
    assert.match(await text(progress), new RegExp(`${lines.length - 1} of ${lines.length - 1} rows`));
    assert.match(await text(tid('export-result')), /downloaded/i);
    await page.screenshot({ path: join(shots, 'browser-stats.png'), fullPage: true });

    // The audit trail: the actions of this test are there, the chain verifies.
    step = 'audit';
    await tid('nav-audit').click({ timeout: T.ui });
    await tid('audit-page').waitFor({ timeout: T.ui });
    const actions = async () => page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    await waitUntil(async () => {
      const a = await actions();
      return ['case.assigned', 'case.report_exported', 'export.decisions', 'case.decided'].every((x) => a.includes(x));
    }, { what: 'audit rows for the assignment, the report, the export and the decision' });
    await tid('verify-audit').click({ timeout: T.ui });
    await waitAttr(tid('audit-verdict'), 'data-intact', 'true', 'audit-verdict');
    assert.match(await text(tid('audit-verdict')), /intact/i);
    // The serve process signed a checkpoint at start: shown, agreeing, with its line to copy.
    assert.match(await text(tid('audit-verdict')), /[1-9]\d* signed checkpoints? agrees?/);
    assert.match(await text(tid('audit-checkpoint')), /audit checkpoint #\d+ [0-9a-f]{64} at .* signed [0-9a-f]{128}/);
    await tid('audit-action').selectOption('case.assigned', { timeout: T.ui });
    await waitUntil(async () => {
      const a = await actions();
      return a.length >= 4 && a.every((x) => x === 'case.assigned');
    }, { what: 'the action filter to keep only case.assigned (4 assignments were made)' });
    await tid('audit-action').selectOption('', { timeout: T.ui });
    await waitUntil(async () => new Set(await actions()).size > 1, { what: 'every action again without the filter' });
    await page.screenshot({ path: join(shots, 'browser-audit.png') });

    // A case id in the trail opens the case; an admin erases the (decided) case.
    step = 'erase';
    await page.locator(`[data-testid="audit-case-link"][data-case-id="${caseId}"]`).first().click({ timeout: T.ui });
    await flow.waitState(ui, (x) => x.caseView?.reference === row.reference && x.caseView?.status === 'approved', 'the case opened from the audit trail');
    await tid('filter-status').selectOption('all', { timeout: T.ui });
    await queueRow.waitFor({ timeout: T.ui });
    await waitUntil(async () => tid('erase-case').isEnabled(), { what: 'erase-case enabled once Ditto ID has its answer' });
    // A second desk (another tab of the same session) lists the case: it must drop it live.
    const other = await context.newPage();
    await other.goto(`http://${server.review}/`, { timeout: T.start });
    await flow.waitState(uiFor(other), (x) => x.present.queue && x.live === 'live', 'the second tab live on the queue', T.start);
    await other.locator('[data-testid="filter-status"]').selectOption('all', { timeout: T.ui });
    const otherRow = other.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`);
    await otherRow.waitFor({ timeout: T.ui });
    await tid('erase-case').click({ timeout: T.ui });
    await tid('erase-panel').waitFor({ timeout: T.ui });
    assert.equal(await tid('erase-confirm').isDisabled(), true, 'no erasure without a reason');
    await tid('erase-reason').fill('TICKET-4711', { timeout: T.ui });
    await page.screenshot({ path: join(shots, 'browser-erase.png') });
    await tid('erase-confirm').click({ timeout: T.ui });
    await flow.waitState(ui, (x) => !x.present['case-view'], 'the case view to close after erasing');
    await queueRow.waitFor({ state: 'detached', timeout: T.ui });
    assert.match(await text(tid('desk-notice')), new RegExp(`${row.reference}.*erased`));
    await otherRow.waitFor({ state: 'detached', timeout: T.ui });
    await other.close();
    const gone = await apiRequest(server.review, admin, 'GET', `/api/cases/${caseId}`);
    assert.equal(gone.status, 404, 'the erased case is gone from the server');
    await tid('filter-status').selectOption('pending', { timeout: T.ui });

    // The trail keeps the erasure (ids only) and still verifies.
    await tid('nav-audit').click({ timeout: T.ui });
    await tid('audit-action').selectOption('case.erased', { timeout: T.ui });
    const erasedRow = page.locator(`[data-testid="audit-row"][data-action="case.erased"]`);
    await erasedRow.first().waitFor({ timeout: T.ui });
    const detail = await text(erasedRow.first());
    assert.ok(detail.includes('TICKET-4711') && detail.includes(row.reference), `the erasure entry keeps reference and reason: ${detail}`);
    assert.ok(!exp.docNumberValue || !detail.includes(exp.docNumberValue), 'no personal data in the erasure entry');
    await tid('verify-audit').click({ timeout: T.ui });
    await waitAttr(tid('audit-verdict'), 'data-intact', 'true', 'audit-verdict after the erasure');
    await tid('nav-queue').click({ timeout: T.ui });
  });

  check('a reviewer takes and gives back a case, sees neither statistics nor the audit trail, and is told when a case is assigned to someone else', async () => {
    step = 'reviewer';
    const admin = await apiLogin(server.review, USER, PASSWORD);
    const payloads = join(dir, 'payloads-reviewer');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 404, count: 2, payloadDir: payloads, name: 'simulate-reviewer' });
    const [mine, other] = (await readPayloads(payloads, 2)).map((x) => expectedFromPayload(x.payload));
    // The second case goes to the admin before the reviewer signs in.
    const otherCase = await waitUntil(() => apiCase(server.review, admin, other.requesterId), { timeout: T.appear, what: 'the second case on the server' });
    await apiOk('POST', `/api/cases/${otherCase.id}/assign`, { to: USER }, admin);

    await tid('sign-out').click({ timeout: T.ui });
    await flow.login(ui, REVIEWER, REVIEWER_PASSWORD);
    assert.equal(await tid('nav-stats').count(), 0, 'no Statistics for a reviewer');
    assert.equal(await tid('nav-audit').count(), 0, 'no Audit trail for a reviewer');
    const mineRow = await flow.waitHeldRow(ui, mine.requesterId);
    const otherRow = await flow.waitHeldRow(ui, other.requesterId);
    const rowOf = (e) => page.locator(`[data-testid="queue-row"][data-requester-id="${e.requesterId}"]`);
    assert.equal(await text(rowOf(other).locator('[data-testid="row-assignee"]')), USER, 'the queue shows who has the other case');

    // Take, give back, take again; no select of accounts for a reviewer.
    await rowOf(mine).click({ timeout: T.ui });
    await flow.waitState(ui, (x) => x.caseView?.reference === mineRow.reference, `case-view ${mineRow.reference}`);
    const assignee = tid('assignee');
    await waitAttr(assignee, 'data-assignee', '', 'unassigned at first');
    assert.equal(await tid('assign-select').count(), 0, 'a reviewer cannot assign to others');
    await tid('take-case').click({ timeout: T.ui });
    await waitAttr(assignee, 'data-assignee', REVIEWER, 'Take');
    await waitUntil(async () => (await text(rowOf(mine).locator('[data-testid="row-assignee"]'))) === 'you', { what: 'the row to show "you"' });
    await tid('give-back').click({ timeout: T.ui });
    await waitAttr(assignee, 'data-assignee', '', 'Give back');
    await tid('take-case').click({ timeout: T.ui });
    await waitAttr(assignee, 'data-assignee', REVIEWER, 'Take again');
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await flow.approveByKeyboard(ui, mineRow.reference, REVIEWER);

    // The admin's case: no Take, and deciding it says why it was refused.
    await rowOf(other).click({ timeout: T.ui });
    await flow.waitState(ui, (x) => x.caseView?.reference === otherRow.reference, `case-view ${otherRow.reference}`);
    await waitAttr(assignee, 'data-assignee', USER, 'assigned to the admin');
    assert.equal(await tid('take-case').count(), 0, 'a reviewer cannot take a case assigned to someone else');
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await ui.press('a');
    await flow.waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog after "a"');
    await ui.press('Enter');
    await waitUntil(async () => (await tid('decision-error').count()) > 0, { what: 'decision-error after a refused decision' });
    assert.match(await text(tid('decision-error')), new RegExp(`assigned to ${USER}`), 'the refusal names who has the case');
    assert.equal((await flow.snapshot(ui)).caseView?.status, 'pending', 'the refused decision changed nothing');
    await page.screenshot({ path: join(shots, 'browser-case-reviewer.png') });

    // The admin decides it, so Ditto ID gets both answers; the admin signs in again.
    await apiOk('POST', `/api/cases/${otherCase.id}/decision`, { decision: 'approve', reasons: [], comment: '' }, admin);
    assert.equal((await sim.waitExit(T.answer)).code, 0, sim.describe());
    assert.deepEqual(simulateResults(sim.out).map((r) => r.result), ['true', 'true'], sim.describe());
    await tid('sign-out').click({ timeout: T.ui });
    await flow.login(ui, USER, PASSWORD);
  });

  check('an admin disables an account signed in elsewhere (its desk goes back to the sign-in), and a password reset makes it choose a new password first', async () => {
    step = 'accounts';
    await addUser(config, OTHER, OTHER_PASSWORD, 'reviewer');
    // The other person's desk: a browser of its own (its own cookies), signed in and live.
    const ctx2 = await launch(join(dir, 'chromium-profile-other'));
    try {
      const p2 = ctx2.pages()[0] ?? (await ctx2.newPage());
      p2.on('pageerror', (e) => pageErrors.push(`${step} (${OTHER}'s desk): ${e}`));
      const ui2 = uiFor(p2);
      await p2.goto(`http://${server.review}/`, { timeout: T.start });
      await flow.login(ui2, OTHER, OTHER_PASSWORD);

      // The admin's accounts table.
      await tid('nav-settings').click({ timeout: T.ui });
      await tid('users-table').waitFor({ timeout: T.ui });
      const status = tid(`user-status-${OTHER}`);
      await waitAttr(status, 'data-status', 'active', `${OTHER} listed`);
      assert.notEqual(await text(tid(`user-last-login-${OTHER}`)), 'never', `${OTHER} signed in: last sign-in shown`);
      assert.equal(await tid(`user-role-${OTHER}`).inputValue({ timeout: T.ui }), 'reviewer');
      assert.equal(await tid(`user-toggle-${USER}`).isDisabled(), true, 'an admin cannot disable the own account');

      // Disable: the other desk's event stream ends, /api/me says 401, back to the sign-in.
      const t0 = Date.now();
      await tid(`user-toggle-${OTHER}`).click({ timeout: T.ui });
      await waitAttr(status, 'data-status', 'disabled', `${OTHER} disabled`);
      assert.equal(await text(tid(`user-toggle-${OTHER}`)), 'Enable');
      // The server ends the stream within 2 s; allow for a slow machine, not for a reconnect loop.
      const ended = await flow.waitState(ui2, (x) => x.present['login-form'], `${OTHER}'s desk to go back to the sign-in`, 10_000);
      const tookMs = Date.now() - t0;
      assert.ok(tookMs < 10_000, `within seconds (${tookMs} ms)`);
      assert.match(ended.loginNotice, /session has ended/i, `login-notice says why: "${ended.loginNotice}"`);
      assert.equal(ended.present.queue, false, 'the queue is gone');
      await ui2.type('login-username', OTHER);
      await ui2.type('login-password', OTHER_PASSWORD);
      await ui2.click('login-submit');
      const refused = await flow.waitState(ui2, (x) => x.loginError, 'login-error for a disabled account');
      assert.match(refused.loginError, /disabled/i, 'a disabled account is told so');

      // Enable, then reset the password to a temporary one (typed twice).
      await tid(`user-toggle-${OTHER}`).click({ timeout: T.ui });
      await waitAttr(status, 'data-status', 'active', `${OTHER} enabled again`);
      await tid(`user-reset-${OTHER}`).click({ timeout: T.ui });
      await tid('reset-password').fill(OTHER_TEMPORARY, { timeout: T.ui });
      await tid('reset-password2').fill(OTHER_TEMPORARY, { timeout: T.ui });
      await tid('reset-submit').click({ timeout: T.ui });
      await waitAttr(status, 'data-status', 'must-change-password', `${OTHER} must change the password`);
      assert.match(await text(tid('accounts-message')), new RegExp(OTHER));
      await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
      await tid('accounts').screenshot({ path: join(shots, 'browser-accounts.png'), timeout: T.ui });

      // The server holds everything but the password change until it is done.
      const temp = await apiLogin(server.review, OTHER, OTHER_TEMPORARY);
      const held = await apiRequest(server.review, temp, 'GET', '/api/cases');
      assert.equal(held.status, 403, `the temporary password opens nothing but the password change: ${JSON.stringify(held)}`);
      assert.equal(held.body?.error, 'password_change_required');

      // The other person signs in with it: password-change-form first, then the queue.
      await flow.loginAndChangePassword(ui2, OTHER, OTHER_TEMPORARY, OTHER_NEW);
      await apiLogin(server.review, OTHER, OTHER_NEW);
      await assert.rejects(apiLogin(server.review, OTHER, OTHER_TEMPORARY), /401/, 'the temporary password is gone');
      const admin = await apiLogin(server.review, USER, PASSWORD);
      const accounts = await apiOk('GET', '/api/users', undefined, admin);
      const other = accounts.find((a) => a.name === OTHER);
      assert.deepEqual([other?.disabled, other?.must_change_password], [false, false], JSON.stringify(other));
    } finally {
      await ctx2.close().catch(() => {});
    }
    await tid('nav-queue').click({ timeout: T.ui });
  });

  check('after a decision the next case opens (those Ditto ID waits on first), n opens one, and the open case is in the address: reload and Back keep it', async () => {
    step = 'next';
    await page.locator('[data-testid="nav-settings"]').click({ timeout: T.ui });
    const box = page.locator('[data-testid="auto-next"]');
    await box.check({ timeout: T.ui });
    assert.equal(await page.evaluate(() => localStorage.getItem('kyc-desk-auto-next')), 'on');
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
    const payloadDir = join(dir, 'payloads-next');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 909, count: 3, payloadDir, name: 'simulate-next' });
    const sent = await readPayloads(payloadDir, 3);
    const refs = [];
    for (const { payload } of sent) refs.push((await flow.waitHeldRow(ui, expectedFromPayload(payload).requesterId)).reference);
    const open = async (pred, what) => (await flow.waitState(ui, (x) => x.caseView && pred(x.caseView), what, T.ui)).caseView;
    // n: a case Ditto ID waits on.
    await ui.press('n');
    const first = await open((v) => refs.includes(v.reference) && v.status === 'pending', 'n to open a waiting case');
    assert.match(await page.evaluate(() => location.hash), /^#\/case\/\d+$/, 'the open case is in the address');
    // Approve: the next waiting case opens by itself.
    await ui.press('a');
    await flow.waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog');
    await ui.press('Enter');
    const second = await open((v) => v.reference !== first.reference && refs.includes(v.reference), 'the next case to open after the approval');
    assert.equal(second.status, 'pending');
    await page.screenshot({ path: join(shots, 'browser-next-case.png') });
    // A reload keeps it open; Back goes to the one decided before.
    await page.reload({ timeout: T.start });
    await open((v) => v.reference === second.reference, 'the same case after a reload');
    await page.goBack({ timeout: T.ui });
    const back = await open((v) => v.reference === first.reference, 'Back to the first case');
    assert.equal(back.status, 'approved');
    // The rest, by n and a.
    for (let i = 0; i < 2; i++) {
      await ui.press('n');
      const v = await open((x) => x.status === 'pending' && refs.includes(x.reference), 'n to open a pending case');
      await ui.press('a');
      await flow.waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog');
      await ui.press('Enter');
      await flow.waitState(ui, (x) => !x.present['confirm-dialog'] && x.caseView?.reference !== v.reference || x.caseView?.status === 'approved', 'the decision');
    }
    await sim.waitExit(T.answer);
    assert.deepEqual(simulateResults(sim.out).map((r) => r.result), ['true', 'true', 'true'], sim.describe());
    await page.locator('[data-testid="nav-settings"]').click({ timeout: T.ui });
    await page.locator('[data-testid="auto-next"]').uncheck({ timeout: T.ui });
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
  });

  check('keyboard: Escape leaves the comment field first, Ctrl+Enter decides from it, and the selected row never hides under the filter bar', async () => {
    step = 'keys';
    const payloadDir = join(dir, 'payloads-keys');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 919, payloadDir, name: 'simulate-keys' });
    const [{ payload }] = await readPayloads(payloadDir, 1);
    const row = await flow.waitHeldRow(ui, expectedFromPayload(payload).requesterId);
    await page.locator(`[data-testid="queue-row"][data-requester-id="${row.requesterId}"]`).click({ timeout: T.ui });
    await flow.waitState(ui, (x) => x.caseView?.reference === row.reference, 'the case open');
    const comment = page.locator('[data-testid="decision-comment"]');
    await comment.fill('Seen in branch', { timeout: T.ui });
    await page.keyboard.press('Escape');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null), null, 'Escape left the field');
    assert.equal((await flow.snapshot(ui)).caseView?.reference, row.reference, 'the case stays open');
    await comment.focus();
    await page.keyboard.press('Control+Enter');
    await flow.waitState(ui, (x) => x.present['confirm-dialog'], 'Ctrl+Enter in the comment asks to confirm the approval');
    await page.keyboard.press('Enter');
    await flow.waitState(ui, (x) => x.caseView?.status === 'approved', 'approved');
    await sim.waitFor(/result=\S+/, T.answer, 'the answer');
    const c = await apiCase(server.review, await apiLogin(server.review, USER, PASSWORD), row.requesterId);
    assert.equal(c.decisions.at(-1).comment, 'Seen in branch');
    // Many rows and an open filter bar: moving never leaves the selection under the bar.
    await page.locator('[data-testid="filter-status"]').selectOption('all');
    await page.getByRole('button', { name: /^Filters/ }).click({ timeout: T.ui });
    await page.keyboard.press('Escape'); // out of any field
    await page.locator('[data-testid="queue"]').click({ position: { x: 5, y: 5 } }).catch(() => {});
    const clear = () => page.evaluate(() => {
      const sel = document.querySelector('[data-testid="queue-row"][aria-selected="true"]');
      const bar = document.querySelector('.queue .filters');
      return sel && bar ? sel.getBoundingClientRect().top >= bar.getBoundingClientRect().bottom - 1 : null;
    });
    const rows = (await flow.snapshot(ui)).rows.length;
    assert.ok(rows >= 8, `enough rows to scroll: ${rows}`);
    for (let i = 0; i < rows; i++) await page.keyboard.press('j');
    for (let i = 0; i < rows; i++) {
      await page.keyboard.press('k');
      assert.equal(await clear(), true, `after ${i + 1} × k the selected row is below the filter bar`);
    }
    await page.locator('[data-testid="filter-status"]').selectOption('pending');
  });

  check('a dense queue: at 1440×900 at least 12 cases are in view, each pending one with its age against the SLA and the countdown as m:ss', async () => {
    step = 'dense';
    const payloadDir = join(dir, 'payloads-dense');
    startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'mixed', seed: 929, count: 12, payloadDir, name: 'simulate-dense' });
    const sent = await readPayloads(payloadDir, 12);
    for (const { payload } of sent) await flow.waitHeldRow(ui, expectedFromPayload(payload).requesterId);
    // The filter panel (opened by the keyboard test) closed, as a reviewer works.
    const filters = page.getByRole('button', { name: /^Filters/ });
    if ((await filters.getAttribute('aria-expanded')) === 'true') await filters.click({ timeout: T.ui });
    await page.setViewportSize({ width: 1440, height: 900 });
    const inView = await page.evaluate(() => {
      const q = document.querySelector('[data-testid="queue"]').getBoundingClientRect();
      return [...document.querySelectorAll('[data-testid="queue-row"]')].filter((r) => {
        const b = r.getBoundingClientRect();
        return b.top >= q.top && b.bottom <= q.bottom;
      }).length;
    });
    assert.ok(inView >= 12, `${inView} rows in view at 1440×900`);
    const ages = await page.locator('[data-testid="row-age"]').evaluateAll((els) => els.map((e) => [e.textContent.trim(), e.getAttribute('data-sla')]));
    assert.ok(ages.length >= 12 && ages.every(([t, sla]) => t === 'now' || /^\d+ min$/.test(t)) && ages.some(([, sla]) => sla === 'ok'), JSON.stringify(ages));
    await page.screenshot({ path: join(shots, 'browser-queue-1440x900.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  check('compare: portrait and selfie zoom together (+ − 0), r decides from it; full screen cycles the images with the arrows', async () => {
    step = 'compare';
    const token = await apiLogin(server.review, USER, PASSWORD);
    const list = await apiOk('GET', '/api/cases?status=pending&limit=50', undefined, token);
    let id = null;
    for (const c of list.cases) {
      const d = await apiOk('GET', `/api/cases/${c.id}`, undefined, token);
      const names = d.images.map((i) => i.name);
      if (names.includes('portrait_image') && names.includes('selfie') && names.includes('front_page')) { id = c.id; break; }
    }
    assert.ok(id, 'a pending case with a portrait, a selfie and a document front');
    await page.evaluate((i) => (location.hash = `#/case/${i}`), id);
    await page.locator(`[data-testid="case-view"]`).waitFor({ timeout: T.ui });
    await page.locator('[data-testid="case-view"]').click({ position: { x: 5, y: 5 } }); // focus the page, not a field
    await page.keyboard.press('c');
    const shown = page.locator('[role="dialog"] img[data-testid="case-image"]');
    await waitUntil(async () => (await shown.count()) === 2, { what: 'portrait and selfie in the compare view' });
    const scales = async () => (await shown.evaluateAll((els) => els.map((e) => [e.dataset.image, e.style.transform])))
      .map(([name, t]) => [name, Number(/scale\(([\d.]+)\)/.exec(t)?.[1])]);
    const [[p0, portrait0], [s0, selfie0]] = await scales();
    assert.deepEqual([p0, s0], ['portrait_image', 'selfie']);
    assert.ok(selfie0 > portrait0, `the selfie starts enlarged to the portrait's face height: ${selfie0} vs ${portrait0}`);
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    const [[, portrait1], [, selfie1]] = await scales();
    assert.ok(Math.abs(portrait1 / portrait0 - 1.5625) < 1e-6 && Math.abs(selfie1 / selfie0 - 1.5625) < 1e-6, `both zoomed together: ${portrait1}, ${selfie1}`);
    await page.screenshot({ path: join(shots, 'browser-compare-zoomed.png') });
    await page.keyboard.press('0');
    assert.deepEqual((await scales()).map(([, v]) => v), [portrait0, selfie0], '0 goes back to fit');
    await page.keyboard.press('r');
    await waitUntil(async () => (await shown.count()) === 0 && (await flow.reasons(ui)).length > 0, { what: 'r closes the compare view and opens reject mode' });
    await page.keyboard.press('Escape');
    await page.keyboard.press('z');
    const big = page.locator('[role="dialog"] img[data-testid="case-image"]');
    await waitUntil(async () => (await big.count()) === 1 && (await big.getAttribute('data-image')) === 'front_page', { what: 'z: the document front full screen' });
    await page.keyboard.press('ArrowRight');
    await waitUntil(async () => (await big.getAttribute('data-image')) !== 'front_page', { what: 'the arrow shows the next image' });
    await page.keyboard.press('ArrowLeft');
    await waitUntil(async () => (await big.getAttribute('data-image')) === 'front_page', { what: 'and back' });
    await page.keyboard.press('Escape');
    await waitUntil(async () => (await big.count()) === 0, { what: 'Escape closes the full screen view' });
    // Findings by root cause: on a tampered case, Ditto ID's restatements (its overall status,
    // its failed check) fold under KYC Desk's own finding instead of standing beside it.
    const tampered = await apiOk('GET', '/api/cases?status=all&flag=mrz_check_digit&limit=1', undefined, token);
    assert.ok(tampered.cases.length, 'a tampered case in the desk');
    const codes = tampered.cases[0].flags.map((f) => f.code);
    assert.ok(codes.includes('document_status') || codes.includes('check_failed'), `Ditto ID restates it: ${codes}`);
    await page.evaluate((i) => (location.hash = `#/case/${i}`), tampered.cases[0].id);
    await page.locator('[data-testid="case-view"]').waitFor({ timeout: T.ui });
    const leads = await page.locator('[data-testid="finding"]').evaluateAll((els) => els.map((e) => e.dataset.code));
    assert.ok(leads.includes('mrz_check_digit'), `KYC Desk's finding leads: ${leads}`);
    assert.ok(!leads.includes('document_status') && !leads.includes('check_failed'), `restatements folded: ${leads}`);
    const folded = page.locator('[data-testid="finding"] [data-testid="restated"]');
    assert.ok((await folded.count()) >= 1, 'a group holds Ditto ID\'s restatements');
    assert.match(await folded.first().locator('summary').textContent(), /Ditto ID reported the same/);
    // The failing check digit is marked in the MRZ block itself.
    const marked = await page.locator('[data-testid="mrz"] [data-testid="mrz-bad-digit"]').evaluateAll((els) => els.map((e) => [e.dataset.field, e.textContent]));
    assert.ok(marked.some(([field, ch]) => field === 'document number' && /^[0-9<]$/.test(ch)), `the document number's digit marked: ${JSON.stringify(marked)}`);
    await page.locator('[data-testid="mrz"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'browser-mrz-digit.png') });
  });

  check('notes: a note added on a case is shown with it and in its timeline, an escalation assigns a supervisor; the audit trail finds the case by reference and date and exports the view as CSV', async () => {
    step = 'notes';
    const token = await apiLogin(server.review, USER, PASSWORD);
    const list = await apiOk('GET', '/api/cases?status=pending&limit=1', undefined, token);
    const { id, reference } = list.cases[0];
    await page.evaluate((i) => (location.hash = `#/case/${i}`), id);
    await page.locator('[data-testid="case-view"]').waitFor({ timeout: T.ui });
    const note = 'Called the issuing office: number is valid';
    await page.locator('[data-testid="note-text"]').fill(note, { timeout: T.ui });
    // Typing in the note never triggers a shortcut (a, r, n are letters of the note).
    await page.locator('[data-testid="note-add"]').click({ timeout: T.ui });
    await waitUntil(async () => (await page.locator('[data-testid="note"]').allTextContents()).some((t) => t.includes(note)), { what: 'the note in the case' });
    assert.equal(await page.locator('[data-testid="confirm-dialog"]').count(), 0, 'no decision was asked for while typing');
    const detail = await apiOk('GET', `/api/cases/${id}`, undefined, token);
    const added = detail.timeline.find((e) => e.action === 'case.note_added');
    assert.ok(added && detail.notes.some((n) => n.id === added.detail.note && n.text === note), 'the timeline names the note');
    // Escalate to a supervisor: the case is assigned to him and the reason kept as a note.
    await addUser(config, 'sven', 'Silver-Harbor-Quartz-29', 'supervisor');
    await page.locator('[data-testid="escalate"]').click({ timeout: T.ui });
    await page.locator('[data-testid="escalate-to"]').selectOption('sven', { timeout: T.ui });
    const why = 'The laminate looks lifted at the photo';
    await page.locator('[data-testid="note-text"]').fill(why, { timeout: T.ui });
    await page.locator('[data-testid="escalate-send"]').click({ timeout: T.ui });
    await waitUntil(async () => (await page.locator('[data-testid="note"][data-kind="escalation"]').allTextContents()).some((t) => t.includes(why) && t.includes('escalated to sven')), { what: 'the escalation note' });
    const escalated = await apiOk('GET', `/api/cases/${id}`, undefined, token);
    assert.equal(escalated.assignee, 'sven', 'assigned to the supervisor');
    assert.ok(escalated.timeline.some((e) => e.action === 'case.escalated' && e.detail.to === 'sven'), 'audited');
    // The audit trail: this case by its reference, today, and the CSV of that view.
    await page.locator('[data-testid="nav-audit"]').click({ timeout: T.ui });
    await page.locator('[data-testid="audit-page"]').waitFor({ timeout: T.ui });
    await page.locator('[data-testid="audit-case"]').fill(reference);
    const today = new Date().toISOString().slice(0, 10);
    await page.locator('[data-testid="audit-from"]').fill(today);
    await waitUntil(async () => {
      const cases = await page.locator('[data-testid="audit-row"] [data-testid="audit-case-link"]').allTextContents();
      return cases.length > 0 && cases.every((t) => t.trim() === reference) ? cases : null;
    }, { what: `only ${reference}'s entries, named by reference` });
    assert.ok(await page.locator('[data-testid="audit-row"][data-action="case.note_added"]').count() >= 1);
    const csv = await downloadBy('audit-export');
    const lines = csv.bytes.toString('utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], 'id,at,actor,action,case_id,reference,detail');
    assert.ok(lines.length > 1 && lines.slice(1).every((l) => l.includes(reference)), csv.bytes.toString('utf8').slice(0, 400));
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
  });

  check('axe finds no serious or critical accessibility violation on the queue, a case, statistics, the audit trail and settings; the case at 1280×720 and 1440×900', async () => {
    step = 'axe';
    const axe = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const token = await apiLogin(server.review, USER, PASSWORD);
    const list = await apiOk('GET', '/api/cases?status=all&limit=1', undefined, token);
    const id = list.cases[0].id;
    const audit = async (name) => {
      await page.evaluate(axe); // through the DevTools protocol: the desk's CSP allows no inline script
      const found = await page.evaluate(async () =>
        (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
      assert.deepEqual(found, [], `${name}: axe violations`);
    };
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
    await page.locator('[data-testid="queue"]').waitFor({ timeout: T.ui });
    await audit('queue');
    await page.evaluate((i) => (location.hash = `#/case/${i}`), id);
    await page.locator('[data-testid="case-view"]').waitFor({ timeout: T.ui });
    await audit('case');
    for (const [size, w, h] of [['1280x720', 1280, 720], ['1440x900', 1440, 900]]) {
      await page.setViewportSize({ width: w, height: h });
      await page.screenshot({ path: join(shots, `browser-case-${size}.png`) });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    for (const [nav, testid] of [['nav-stats', 'stats-page'], ['nav-audit', 'audit-page'], ['nav-settings', 'settings-page']]) {
      await page.locator(`[data-testid="${nav}"]`).click({ timeout: T.ui });
      await page.locator(`[data-testid="${testid}"]`).waitFor({ timeout: T.ui });
      await page.waitForTimeout(300); // its data loaded
      await audit(testid);
    }
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
  });

  check('dark theme: it follows prefers-color-scheme, the Settings switch overrides it, and axe still finds no contrast problem; one date format, switchable to ISO', async () => {
    step = 'dark';
    const axe = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const token = await apiLogin(server.review, USER, PASSWORD);
    const list = await apiOk('GET', '/api/cases?status=all&limit=1', undefined, token);
    const id = list.cases[0].id;
    const background = () => page.evaluate(() => getComputedStyle(document.querySelector('.queue')).backgroundColor);
    const audit = async (name) => {
      await page.evaluate(axe);
      const found = await page.evaluate(async () =>
        (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
      assert.deepEqual(found, [], `${name} (dark): axe violations`);
    };
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
    const dark = await background();
    assert.notEqual(dark, light, 'the system preference turns the desk dark');
    await audit('queue');
    await page.evaluate((i) => (location.hash = `#/case/${i}`), id);
    await page.locator('[data-testid="case-view"]').waitFor({ timeout: T.ui });
    await page.waitForTimeout(300);
    await audit('case');
    await page.screenshot({ path: join(shots, 'browser-case-dark.png') });
    await page.locator('[data-testid="nav-settings"]').click({ timeout: T.ui });
    await page.locator('[data-testid="settings-page"]').waitFor({ timeout: T.ui });
    await audit('settings');
    // The switch wins over the system: light while the system is dark.
    await page.locator('[data-testid="theme"]').selectOption('light');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
    assert.equal(await background(), light, 'the switch overrides the system preference');
    await page.locator('[data-testid="nav-settings"]').click({ timeout: T.ui });
    await page.locator('[data-testid="theme"]').selectOption('system');
    await page.emulateMedia({ colorScheme: 'light' });
    // Dates: ISO everywhere once chosen (the page reloads with it).
    await Promise.all([page.waitForEvent('load', { timeout: T.start }), page.locator('[data-testid="date-format"]').selectOption('iso')]);
    await page.locator('[data-testid="nav-settings"]').click({ timeout: T.start });
    await page.locator('[data-testid="date-sample"]').waitFor({ timeout: T.ui });
    assert.match(await page.locator('[data-testid="date-sample"]').textContent(), /Now: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.ui });
    await page.evaluate((i) => { location.hash = '#/'; location.hash = `#/case/${i}`; }, id);
    await page.locator('[data-testid="case-view"]').waitFor({ timeout: T.ui });
    await waitUntil(async () => /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(await page.locator('[data-testid="case-view"]').innerText()), { what: 'an ISO date in the case' });
    await page.locator('[data-testid="nav-settings"]').click({ timeout: T.ui });
    await Promise.all([page.waitForEvent('load', { timeout: T.start }), page.locator('[data-testid="date-format"]').selectOption('locale')]);
    await page.locator('[data-testid="nav-queue"]').click({ timeout: T.start });
  });

  check('live events: when the stream is back after the server restarted, the open desk reads its queue again (events sent meanwhile were missed) and shows the case received then', async () => {
    step = 'resync';
    await tid('nav-queue').click({ timeout: T.ui });
    await tid('filter-status').selectOption('all', { timeout: T.ui });
    await waitUntil(async () => (await text(tid('live-status'))) === 'live', { what: 'the desk live' });
    const lists = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/cases') lists.push(Date.now());
    });
    await killTree(server.proc.child);
    await waitUntil(async () => (await text(tid('live-status'))) !== 'live', { what: 'the desk sees the stream break' });
    const down = Date.now();
    server = await startServe(config, cleanup);
    // Received while the desk's stream is still away: its case.created event reaches nobody.
    const payloads = cleanup.dir(await makeTempDir('kyc-e2e-resync-'));
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 77, payloadDir: payloads });
    const [{ requesterId }] = await readPayloads(payloads, 1);
    const token = await apiLogin(server.review, USER, PASSWORD);
    const stored = await waitUntil(() => apiCase(server.review, token, requesterId), { what: 'the case stored' });
    await waitUntil(async () => (await text(tid('live-status'))) === 'live', { what: 'the desk live again', timeout: T.start });
    await waitUntil(() => lists.some((t) => t > down), { what: 'the queue read again once the stream was back' });
    await waitUntil(async () => (await page.locator('[data-testid="queue-row"]', { hasText: stored.reference }).count()) === 1, {
      what: `the case received meanwhile (${stored.reference}) in the queue`,
    });
    await killTree(sim.child);
  });

  check('the page threw no uncaught errors', () => {
    assert.deepEqual(flow.countErrors(pageErrors), {}, 'uncaught errors in the page ("step: message": times)');
  });
});
