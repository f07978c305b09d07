// Team suite: one `kyc-desk serve` whose review listener is HTTPS (`[review] tls = true`, its
// generated certificate) and two reviewers, each in a Chromium of their own that trusts that
// certificate by its public key's fingerprint (--ignore-certificate-errors-spki-list, nothing
// else). Both see a held case arrive; each sees the other viewing it; one decides and the other
// sees the case decided; Ditto ID (a real `kyc-desk simulate`) gets that decision.

import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import * as flow from './flow.mjs';
import {
  Cleanup, T, addUser, apiLogin, apiCase, ensureScreenshotDir, expectedFromPayload, httpCall, makeTempDir,
  readPayloads, simulateResults, startServe, startSimulate, waitUntil, writeConfig,
} from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LIMIT = 5 * 60_000;
const RITA = { name: 'rita', password: 'Harbor-Willow-Quartz-29' };
const SAM = { name: 'sam', password: 'Lantern-Fjord-Pepper-64' };

/** The base64 SHA-256 of a PEM certificate's public key (what Chromium's SPKI list takes). */
function spkiHash(pem) {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

async function mkdirp(d) {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(d, { recursive: true });
  return d;
}

describe('team: two reviewers on one HTTPS review listener', () => {
  const cleanup = new Cleanup();
  let dir, config, server, review, shots, spki;
  const desks = {}; // name → {context, page, ui}
  const pageErrors = [];

  before(async () => {
    dir = cleanup.dir(await makeTempDir('kyc-e2e-team-'));
    let dataDir;
    ({ path: config, dataDir } = await writeConfig(dir, { reviewTls: true }));
    await addUser(config, RITA.name, RITA.password, 'reviewer');
    await addUser(config, SAM.name, SAM.password, 'reviewer');
    server = await startServe(config, cleanup);
    const pem = await readFile(join(dataDir, 'tls-cert.pem'), 'utf8');
    review = { origin: `https://${server.review}`, ca: pem };
    spki = spkiHash(pem);
    shots = await ensureScreenshotDir('team');
    for (const who of [RITA, SAM]) {
      const context = await chromium.launchPersistentContext(join(dir, `profile-${who.name}`), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
          '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run',
          `--ignore-certificate-errors-spki-list=${spki}`,
        ],
        viewport: { width: 1280, height: 800 },
        timeout: T.start,
      });
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (e) => pageErrors.push(`${who.name}: ${e}`));
      const sel = (id) => page.locator(`[data-testid="${id}"]`);
      const ui = {
        js: (fn, ...args) => page.evaluate(`(${fn.toString()})(...${JSON.stringify(args)})`),
        press: (key) => page.keyboard.press(key),
        type: (id, text) => sel(id).fill(text, { timeout: T.ui }),
        click: (id) => sel(id).click({ timeout: T.ui }),
        screenshot: (file) => page.screenshot({ path: file }),
      };
      desks[who.name] = { context, page, ui };
    }
  }, { timeout: LIMIT });

  after(async () => {
    for (const d of Object.values(desks)) await d.context.close().catch(() => {});
    await cleanup.run();
  }, { timeout: LIMIT });

  test('the review listener speaks HTTPS only, with HSTS, and the session cookie is Secure', { timeout: LIMIT }, async () => {
    const r = await httpCall(review, 'GET', '/api/setup');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
    const login = await httpCall(review, 'POST', '/api/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: RITA.name, password: RITA.password }),
    });
    const cookie = String(login.headers['set-cookie']);
    for (const part of ['HttpOnly', 'SameSite=Strict', 'Secure']) assert.ok(cookie.includes(part), `${part} in ${cookie}`);
    await assert.rejects(httpCall(server.review, 'GET', '/api/setup'), 'plain HTTP gets no answer from the HTTPS listener');
  });

  test('both reviewers see a held case arrive, see each other on it, one decides and the other sees it decided', { timeout: LIMIT }, async () => {
    const { rita, sam } = desks;
    for (const [who, d] of [[RITA, rita], [SAM, sam]]) {
      await d.page.goto(`${review.origin}/`, { timeout: T.start });
      await flow.recordPageErrors(d.ui);
      await flow.login(d.ui, who.name, who.password);
    }
    const payloads = join(dir, 'payloads');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 515, payloadDir: payloads, name: 'simulate-team' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    const row = await flow.waitHeldRow(rita.ui, exp.requesterId);
    await flow.waitHeldRow(sam.ui, exp.requesterId);
    // The waiting count is in both tabs' titles.
    for (const d of [rita, sam]) {
      await waitUntil(async () => /^\(1\) KYC Desk$/.test(await d.page.title()), { what: 'the title "(1) KYC Desk"' });
    }

    // Rita opens it: Sam sees her on the row, live.
    await rita.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`).click({ timeout: T.ui });
    await flow.waitState(rita.ui, (x) => x.caseView?.reference === row.reference, 'rita: the case open');
    const samRow = sam.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"] [data-testid="row-viewers"]`);
    await waitUntil(async () => (await samRow.count()) > 0 && /rita viewing/.test(await samRow.textContent()), { what: 'sam: "rita viewing" on the row', timeout: T.ui });
    await sam.page.screenshot({ path: join(shots, 'team-sam-sees-rita.png') });
    // Sam opens it too: each case header names the other.
    await sam.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`).click({ timeout: T.ui });
    for (const [d, other] of [[rita, 'sam'], [sam, 'rita']]) {
      const header = d.page.locator('[data-testid="case-viewers"]');
      await waitUntil(async () => (await header.count()) > 0 && (await header.textContent()).includes(`${other} is viewing`), { what: `"${other} is viewing" in the case header`, timeout: T.ui });
    }
    await rita.page.screenshot({ path: join(shots, 'team-rita-case.png') });

    // Rita approves; Sam's open case turns approved without a reload; Ditto ID gets true.
    assert.equal(simulateResults(sim.out).length, 0, 'no answer before the decision');
    await flow.approveByKeyboard(rita.ui, row.reference, RITA.name);
    await flow.waitState(sam.ui, (x) => x.caseView?.status === 'approved', 'sam: the open case shows approved', T.answer);
    await sam.page.screenshot({ path: join(shots, 'team-sam-sees-decided.png') });
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    assert.deepEqual(simulateResults(sim.out), [{ result: 'true', reference: row.reference, userId: exp.userId }], sim.describe());
    const token = await apiLogin(review, SAM.name, SAM.password);
    const c = await apiCase(review, token, exp.requesterId);
    assert.equal(c.answer?.by, 'reviewer');
    for (const d of [rita, sam]) {
      await waitUntil(async () => (await d.page.title()) === 'KYC Desk', { what: 'the title without a waiting count' });
    }

    // Rita closes the case (Escape back to the queue is not a close; signing out is): Sam sees her
    // go at once.
    await rita.ui.click('sign-out');
    const header = sam.page.locator('[data-testid="case-viewers"]');
    await waitUntil(async () => (await header.count()) === 0, { what: 'rita gone from sam\'s case header', timeout: 10_000 });
  });

  test('a search applies to the cases Ditto ID waits on: a non-matching one arriving stays out of the narrowed list', { timeout: LIMIT }, async () => {
    const { rita, sam } = desks;
    // Rita signed out at the end of the last test.
    await flow.login(rita.ui, RITA.name, RITA.password);
    await sam.ui.click('nav-queue').catch(() => {});
    await sam.ui.type('filter-search', 'zzzz');
    const payloads = join(dir, 'payloads-search');
    const sim = startSimulate(config, cleanup, { receiver: server.receiver, scenario: 'clean', seed: 516, payloadDir: payloads, name: 'simulate-search' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    const row = await flow.waitHeldRow(rita.ui, exp.requesterId);
    await new Promise((r) => setTimeout(r, 1500));
    const narrowed = await flow.snapshot(sam.ui);
    assert.ok(!narrowed.rows.some((r) => r.requesterId === exp.requesterId), `"zzzz" hides the waiting case: ${JSON.stringify(narrowed.rows)}`);
    await sam.page.screenshot({ path: join(shots, 'team-search-hides-waiting.png') });
    const count = sam.page.locator('[data-testid="queue-count"]');
    assert.equal(await count.getAttribute('data-total', { timeout: T.ui }), '0', 'the count says none match "zzzz"');
    await sam.ui.type('filter-search', row.reference);
    await flow.waitHeldRow(sam.ui, exp.requesterId);
    await waitUntil(async () => (await count.textContent()).trim() === '1 of 1 case', { what: 'queue-count "1 of 1 case"' });
    await rita.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`).click({ timeout: T.ui });
    await flow.waitState(rita.ui, (x) => x.caseView?.reference === row.reference, 'rita: the case open');
    await flow.approveByKeyboard(rita.ui, row.reference, RITA.name);
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    await sam.ui.type('filter-search', '');
  });

  test('a case the timeout answered is pinned as needing review; approving it then is marked a conflict with what to do', { timeout: LIMIT }, async () => {
    const quickDir = await mkdirp(join(dir, 'quick'));
    const { path: quickConfig } = await writeConfig(quickDir, { holdSecs: 2 });
    await addUser(quickConfig, RITA.name, RITA.password, 'reviewer');
    const quick = await startServe(quickConfig, cleanup);
    const { page, ui } = desks.rita;
    await page.goto(`http://${quick.review}/`, { timeout: T.start });
    await flow.login(ui, RITA.name, RITA.password);
    const payloads = join(dir, 'payloads-timeout');
    const sim = startSimulate(quickConfig, cleanup, { receiver: quick.receiver, scenario: 'clean', seed: 517, payloadDir: payloads, name: 'simulate-timeout' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    await sim.waitFor(/result=\S+/, T.answer, 'the timeout answer');
    assert.deepEqual(simulateResults(sim.out).map((r) => r.result), ['false'], 'on_timeout = reject');
    const row = page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`);
    await waitUntil(async () => (await row.count()) > 0 && (await row.getAttribute('data-needs-review')) === 'true', { what: 'the row pinned as needing review', timeout: T.ui });
    assert.match(await row.locator('[data-testid="needs-review"]').textContent(), /timeout \(false\).*needs review/);
    await page.screenshot({ path: join(shots, 'team-needs-review.png') });
    await row.click({ timeout: T.ui });
    await page.locator('[data-testid="case-needs-review"]').waitFor({ timeout: T.ui });
    await ui.press('a');
    await flow.waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog');
    await ui.press('Enter');
    const conflict = page.locator('[data-testid="case-conflict"]');
    await conflict.waitFor({ timeout: T.answer });
    const text = (await conflict.textContent()).replace(/\s+/g, ' ');
    assert.match(text, /result=false/);
    assert.match(text, /approved/);
    assert.match(text, /resumed on the enterprise's side/);
    assert.match(text, /No webhook is configured/, 'what to do without a webhook');
    await page.screenshot({ path: join(shots, 'team-conflict.png') });
    await waitUntil(async () => (await row.count()) === 0 || (await row.locator('[data-testid="row-conflict"]').count()) > 0 || (await row.getAttribute('data-needs-review')) === 'false', { what: 'the row no longer needing review' });
  });

  test('four-eyes: the maker\'s first approval is said to keep Ditto ID waiting, her Approve is disabled, and the checker finds the case by its filter, reads her comment and approves', { timeout: LIMIT }, async () => {
    const fourDir = await mkdirp(join(dir, 'four'));
    const { path: fourConfig } = await writeConfig(fourDir, { decisionExtra: 'four_eyes = true\n' });
    await addUser(fourConfig, RITA.name, RITA.password, 'reviewer');
    await addUser(fourConfig, SAM.name, SAM.password, 'reviewer');
    const four = await startServe(fourConfig, cleanup);
    const { rita, sam } = desks;
    for (const [who, d] of [[RITA, rita], [SAM, sam]]) {
      await d.page.goto(`http://${four.review}/`, { timeout: T.start });
      await flow.login(d.ui, who.name, who.password);
    }
    const payloads = join(dir, 'payloads-four');
    const sim = startSimulate(fourConfig, cleanup, { receiver: four.receiver, scenario: 'expired', seed: 518, payloadDir: payloads, name: 'simulate-four' });
    const [{ payload }] = await readPayloads(payloads, 1);
    const exp = expectedFromPayload(payload);
    const row = await flow.waitHeldRow(rita.ui, exp.requesterId);
    // The maker: her approval is the first of two.
    await rita.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`).click({ timeout: T.ui });
    await flow.waitState(rita.ui, (x) => x.caseView?.reference === row.reference, 'rita: the case open');
    await rita.ui.press('a');
    await rita.page.locator('[data-testid="confirm-four-eyes"]').waitFor({ timeout: T.ui });
    assert.match(await rita.page.locator('[data-testid="confirm-four-eyes"]').textContent(), /first of two approvals.*keeps waiting/s);
    await rita.ui.type('confirm-comment', 'Expiry checked: renewal receipt seen');
    await rita.ui.press('Enter');
    await rita.page.locator('[data-testid="awaiting-second-box"]').waitFor({ timeout: T.ui });
    assert.equal(await rita.page.locator('[data-testid="approve-button"]').isDisabled(), true, 'the maker cannot approve twice');
    await rita.page.screenshot({ path: join(shots, 'team-four-eyes-maker.png') });
    assert.equal(simulateResults(sim.out).length, 0, 'Ditto ID still waits');
    // The checker: the filter finds it, with the maker's comment.
    await sam.page.getByRole('button', { name: /^Filters/ }).click({ timeout: T.ui });
    await sam.page.locator('[data-testid="filter-awaiting"]').check({ timeout: T.ui });
    await waitUntil(async () => {
      const rows = (await flow.snapshot(sam.ui)).rows;
      return rows.length === 1 && rows[0].requesterId === exp.requesterId;
    }, { what: 'sam: only the case awaiting a second approval', timeout: T.ui });
    const badge = sam.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"] [data-testid="awaiting-second"]`);
    await badge.waitFor({ timeout: T.ui });
    await sam.page.locator(`[data-testid="queue-row"][data-requester-id="${exp.requesterId}"]`).click({ timeout: T.ui });
    await flow.waitState(sam.ui, (x) => x.caseView?.reference === row.reference, 'sam: the case open');
    assert.match(await sam.page.locator('[data-testid="first-approval-comment"]').textContent(), /renewal receipt seen/);
    await sam.page.screenshot({ path: join(shots, 'team-four-eyes-checker.png') });
    await flow.approveByKeyboard(sam.ui, row.reference, SAM.name, { mustOverride: true });
    await sim.waitFor(/result=\S+/, T.answer, 'the answer after the second approval');
    assert.deepEqual(simulateResults(sim.out).map((r) => r.result), ['true'], sim.describe());
  });

  test('a selfie and a document photo reused under another user are errors on the second case, linked to the first (which is flagged back) and shown side by side', { timeout: LIMIT }, async () => {
    // A desk of its own, so that only these two cases are in it.
    const reuseDir = await mkdirp(join(dir, 'reuse'));
    const { path: reuseConfig, dataDir: reuseData } = await writeConfig(reuseDir);
    await addUser(reuseConfig, RITA.name, RITA.password, 'reviewer');
    const reuse = await startServe(reuseConfig, cleanup);
    const { rita } = desks;
    await rita.page.goto(`http://${reuse.review}/`, { timeout: T.start });
    await flow.login(rita.ui, RITA.name, RITA.password);
    // This test follows the finding's link after the decision: the case stays open.
    await rita.page.evaluate(() => localStorage.setItem('kyc-desk-auto-next', 'off'));
    const payloads = join(dir, 'payloads-reuse');
    const sim = startSimulate(reuseConfig, cleanup, { receiver: reuse.receiver, scenario: 'clean', seed: 519, payloadDir: payloads, name: 'simulate-reuse' });
    const [{ payload: first }] = await readPayloads(payloads, 1);
    const firstRow = await flow.waitHeldRow(rita.ui, first.request_info.requester_id);
    // Another person's case under another user (the search test's payload), carrying the first
    // case's selfie and its document photo (portrait and front page) under the other case's
    // document number, posted as Ditto ID's server would.
    const [{ payload: other }] = await readPayloads(join(dir, 'payloads-search'), 1);
    const second = structuredClone(other);
    second.request_info.requester_id = 'e2e-reused-selfie-1';
    const selfieOf = (p) => p.kyc_info.liveness_check.video.autocapture_result;
    selfieOf(second).selfie_image = selfieOf(first).selfie_image;
    const pagesOf = (p) => p.kyc_info.document.document_info.document_images;
    for (const name of ['portrait_image', 'front_page']) pagesOf(second)[name] = pagesOf(first)[name];
    const ca = await readFile(join(reuseData, 'tls-cert.pem'), 'utf8');
    const posted = httpCall({ origin: `https://${reuse.receiver}`, ca }, 'POST', '/kyc', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(second),
      timeout: T.answer * 2,
    });
    const secondRow = await flow.waitHeldRow(rita.ui, second.request_info.requester_id);
    await rita.page.locator(`[data-testid="queue-row"][data-requester-id="${second.request_info.requester_id}"]`).click({ timeout: T.ui });
    await flow.waitState(rita.ui, (x) => x.caseView?.reference === secondRow.reference, 'rita: the second case open');
    const finding = rita.page.locator('li[data-code="selfie_reused"]');
    await finding.waitFor({ timeout: T.ui });
    assert.match(await finding.textContent(), /error/);
    assert.match(await finding.textContent(), new RegExp(firstRow.reference));
    assert.equal(await rita.page.locator('li[data-code="document_reused"]').count(), 0, 'another document number: no number finding');
    await finding.locator('[data-testid="side-by-side"]').click({ timeout: T.ui });
    const view = rita.page.locator('[data-testid="side-by-side-view"]');
    await view.waitFor({ timeout: T.ui });
    await waitUntil(async () => {
      const sizes = await view.locator('img').evaluateAll((imgs) => imgs.map((i) => i.complete && i.naturalWidth));
      return sizes.length === 2 && sizes.every((w) => w > 0) ? sizes : null;
    }, { what: 'both selfies loaded side by side' });
    assert.match(await view.getAttribute('aria-label'), new RegExp(`${secondRow.reference}.*${firstRow.reference}`));
    await rita.page.screenshot({ path: join(shots, 'team-selfie-side-by-side.png') });
    await rita.page.keyboard.press('Escape');
    await view.waitFor({ state: 'detached', timeout: T.ui });
    await flow.rejectByKeyboard(rita.ui, secondRow.reference, RITA.name);
    const answer = await posted;
    assert.equal(answer.status, 200, answer.text);
    assert.equal(JSON.parse(answer.text).result, false);
    // The document photo, found by its portrait's hash although the number differs (looked at
    // once Ditto ID has its answer: the held request does not wait on these steps).
    const photo = rita.page.locator('li[data-code="portrait_reused"]');
    assert.match(await photo.textContent(), /error/);
    assert.match(await photo.textContent(), new RegExp(firstRow.reference));
    await photo.locator('[data-testid="side-by-side"]').click({ timeout: T.ui });
    const photos = rita.page.locator('[data-testid="side-by-side-view"]');
    await waitUntil(async () => {
      const sizes = await photos.locator('img').evaluateAll((imgs) => imgs.map((i) => i.complete && i.naturalWidth));
      return sizes.length === 4 && sizes.every((w) => w > 0) ? sizes : null;
    }, { what: "both cases' portraits and front pages loaded side by side" });
    await rita.page.screenshot({ path: join(shots, 'team-portrait-side-by-side.png') });
    await rita.page.keyboard.press('Escape');
    await photos.waitFor({ state: 'detached', timeout: T.ui });
    // The earlier case names the later one, and its link opens it.
    await finding.locator('[data-testid="related-case"]').click({ timeout: T.ui });
    await flow.waitState(rita.ui, (x) => x.caseView?.reference === firstRow.reference, 'rita: the first case open from the link');
    const back = rita.page.locator('li[data-code="selfie_reused"]');
    await back.waitFor({ timeout: T.ui });
    assert.match(await back.textContent(), new RegExp(secondRow.reference));
    await flow.rejectByKeyboard(rita.ui, firstRow.reference, RITA.name);
    await sim.waitFor(/result=\S+/, T.answer, 'simulate to print the answer');
    await rita.page.evaluate(() => localStorage.removeItem('kyc-desk-auto-next'));
  });

  test('plain HTTP on a network address, accepted by allow_plain_http, puts a red banner on every page, the sign-in first', { timeout: LIMIT }, async () => {
    const plainDir = join(dir, 'plain');
    const { path: plainConfig } = await writeConfig(await mkdirp(plainDir), {
      reviewListen: '0.0.0.0:0',
      reviewExtra: 'tls = false\nallow_plain_http = true\n',
    });
    await addUser(plainConfig, RITA.name, RITA.password, 'reviewer');
    const plain = await startServe(plainConfig, cleanup);
    const port = plain.review.split(':').pop();
    const { page } = desks.rita;
    await page.goto(`http://127.0.0.1:${port}/`, { timeout: T.start });
    const banner = page.locator('[data-testid="plain-http-banner"]');
    await banner.waitFor({ timeout: T.ui });
    assert.match(await banner.textContent(), /plain HTTP/);
    assert.equal(await banner.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(179, 38, 30)', 'red');
    await page.screenshot({ path: join(shots, 'team-plain-http-banner.png') });
  });

  test('no page threw an uncaught error', async () => {
    assert.deepEqual(pageErrors, []);
  });
});
