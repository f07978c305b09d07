// The review flow both suites drive (browser: Playwright + Chromium; desktop: WebDriver into the
// Tauri window), written once against a small adapter:
//
//   ui.js(fn, ...args)     runs the self-contained function `fn` in the page, returns its result
//   ui.press(key)          a real key press: 'j', 'k', 'a', 'r', '1', 'Enter', 'Escape', 'ArrowDown', ...
//   ui.type(testid, text)  types into the input with that data-testid (real key events)
//   ui.click(testid)       a real click on the element with that data-testid
//   ui.screenshot(file)    a PNG of the window/viewport
//
// Elements are found only through the data-testid hooks of tests/e2e/SELECTORS.md.

import assert from 'node:assert/strict';

import { T, waitUntil } from './lib.mjs';

// ---------------------------------------------------------------------------------------------
// In-page probes (serialised into the page: they must not use anything from this module).

/** A snapshot of what matters on the page right now. */
function probe() {
  const vis = (el) =>
    !!el &&
    (typeof el.checkVisibility === 'function'
      ? el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })
      : el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');
  const one = (id) => document.querySelector(`[data-testid="${id}"]`);
  const rows = [...document.querySelectorAll('[data-testid="queue-row"]')].filter(vis).map((r) => {
    const cd = r.querySelector('[data-testid="hold-countdown"]');
    return {
      reference: r.getAttribute('data-reference'),
      requesterId: r.getAttribute('data-requester-id'),
      status: r.getAttribute('data-status'),
      held: r.getAttribute('data-held'),
      selected: r.getAttribute('aria-selected'),
      countdown: cd && vis(cd) ? cd.textContent.trim() : null,
    };
  });
  const cv = one('case-view');
  const ae = document.activeElement;
  const textual =
    !!ae &&
    (ae.isContentEditable ||
      ae.tagName === 'TEXTAREA' ||
      (ae.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(ae.type)));
  const present = {};
  for (const id of [
    'setup-form', 'setup-error', 'login-form', 'login-error', 'login-notice', 'password-change-form', 'password-error',
    'queue', 'case-view', 'decision-panel', 'confirm-dialog', 'decision-summary', 'shortcuts-help', 'live-status',
    'settings-page',
  ]) {
    present[id] = vis(one(id));
  }
  return {
    url: location.href,
    readyState: document.readyState,
    title: document.title,
    body: document.body ? document.body.innerText.replace(/\s+/g, ' ').trim().slice(0, 200) : null,
    present,
    live: (one('live-status')?.textContent ?? '').trim(),
    loginError: (one('login-error')?.textContent ?? '').trim(),
    loginNotice: (one('login-notice')?.textContent ?? '').trim(),
    setupError: (one('setup-error')?.textContent ?? '').trim(),
    passwordError: (one('password-error')?.textContent ?? '').trim(),
    setupCode: one('setup-code') ? one('setup-code').value : null,
    rows,
    caseView: cv && vis(cv) ? { reference: cv.getAttribute('data-reference'), status: cv.getAttribute('data-status') } : null,
    summary: vis(one('decision-summary')) ? one('decision-summary').textContent.replace(/\s+/g, ' ').trim() : null,
    focusInTextField: textual,
    focus: ae ? `${ae.tagName.toLowerCase()}${ae.getAttribute('data-testid') ? `[data-testid=${ae.getAttribute('data-testid')}]` : ''}` : null,
  };
}

/** The open case's images, scores and the fields-table row of one field. */
function caseProbe(field) {
  const cv = document.querySelector('[data-testid="case-view"]');
  if (!cv) return null;
  const images = [...cv.querySelectorAll('[data-testid="case-image"]')].map((img) => ({
    name: img.getAttribute('data-image'),
    tag: img.tagName.toLowerCase(),
    complete: !!img.complete,
    naturalWidth: img.naturalWidth ?? 0,
    naturalHeight: img.naturalHeight ?? 0,
  }));
  const score = (id) => {
    const el = cv.querySelector(`[data-testid="${id}"]`);
    return el ? el.getAttribute('data-value') : undefined;
  };
  const table = cv.querySelector('[data-testid="fields-table"]');
  let row = null;
  if (table) {
    const tr = [...table.querySelectorAll('tr[data-field]')].find((t) => t.getAttribute('data-field') === field);
    if (tr) {
      row = {};
      for (const td of tr.querySelectorAll('td[data-source]')) row[td.getAttribute('data-source')] = td.textContent.trim();
    }
  }
  const portrait = cv.querySelector('[data-testid="case-image"][data-image="portrait_image"]');
  return {
    images,
    appId: cv.querySelector('[data-testid="app-id"]')?.textContent.trim() ?? null,
    portraitLabel: portrait?.closest('.viewer')?.querySelector('.chip')?.textContent.trim() ?? null,
    checkImages: [...cv.querySelectorAll('[data-testid^="check-detail-"] [data-testid="case-image"]')].map((i) => i.getAttribute('data-image')),
    matchPercentages: [...cv.querySelectorAll('[data-testid="match-percentage"]')].map((m) => m.textContent.trim()),
    face: score('score-face'),
    liveness: score('score-liveness'),
    hasTable: !!table,
    fields: table ? [...table.querySelectorAll('tr[data-field]')].map((t) => t.getAttribute('data-field')) : [],
    row,
  };
}

/** The reject reasons as shown: [{code, on}] ("on" from the checked / pressed state). */
function reasonsProbe() {
  return [...document.querySelectorAll('[data-testid="reason-option"]')].map((el) => {
    const input = el.matches('input') ? el : el.querySelector('input[type="checkbox"], input[type="radio"]');
    const on =
      (input ? input.checked : false) ||
      el.getAttribute('aria-pressed') === 'true' ||
      el.getAttribute('aria-checked') === 'true' ||
      el.getAttribute('aria-selected') === 'true';
    return { code: el.getAttribute('data-code'), on };
  });
}

// ---------------------------------------------------------------------------------------------
// Steps

export const snapshot = (ui) => ui.js(probe);

/**
 * Starts recording uncaught errors and unhandled rejections in the page (for the desktop window,
 * where there is no pageerror hook); `pageErrors` reads them. A reload would drop the recorder.
 */
export function recordPageErrors(ui) {
  return ui.js(() => {
    if (window.__kycE2eErrors) return;
    window.__kycE2eErrors = [];
    window.addEventListener('error', (e) => window.__kycE2eErrors.push(String(e.error ?? e.message)));
    window.addEventListener('unhandledrejection', (e) => window.__kycE2eErrors.push(`unhandled rejection: ${e.reason}`));
  });
}

export const pageErrors = (ui) => ui.js(() => window.__kycE2eErrors ?? ['(error recorder gone: the page was reloaded)']);

/** {message: times} of a list of error messages, each prefixed with the step it happened in. */
export function countErrors(list) {
  const counts = {};
  for (const e of list) counts[e] = (counts[e] ?? 0) + 1;
  return counts;
}

/** Waits until `pred(snapshot)` holds; returns the snapshot. */
export async function waitState(ui, pred, what, timeout = T.ui) {
  let last;
  try {
    return await waitUntil(
      async () => {
        last = await snapshot(ui);
        return pred(last) ? last : null;
      },
      { timeout, what },
    );
  } catch (e) {
    e.message += `\nlast page state: ${JSON.stringify(last)}`;
    throw e;
  }
}

/** Signs in through login-form; resolves once the queue shows and the event stream is live. */
export async function login(ui, username, password) {
  await waitState(ui, (s) => s.present['login-form'] || s.present['setup-form'], 'the sign-in form', T.start);
  const s0 = await snapshot(ui);
  assert.ok(s0.present['login-form'], `an account exists, so login-form (not setup-form) must show: ${JSON.stringify(s0.present)}`);
  await ui.type('login-username', username);
  await ui.type('login-password', password);
  await ui.click('login-submit');
  const s = await waitState(ui, (x) => x.present.queue || x.loginError, 'the queue after signing in', T.start);
  assert.equal(s.loginError, '', `login-error shown: ${s.loginError}`);
  await waitState(ui, (x) => x.live === 'live', 'live-status to read "live"', T.start);
}

/**
 * First run: fills setup-form (the setup code unless `code` is null, i.e. already filled in; the
 * admin's name; the password twice) and submits it. Returns the snapshot once setup-error shows or
 * the form is gone.
 */
export async function submitSetup(ui, { code, username, password }) {
  await waitState(ui, (s) => s.present['setup-form'], 'setup-form (no account exists yet)', T.start);
  if (code !== null && code !== undefined) await ui.type('setup-code', code);
  await ui.type('setup-username', username);
  await ui.type('setup-password', password);
  await ui.type('setup-password2', password);
  // Submitting clears the error of an earlier try at once, before the server answers.
  await ui.click('setup-submit');
  return waitState(ui, (x) => x.setupError || !x.present['setup-form'], 'setup-error or the desk after submitting setup-form', T.start);
}

/**
 * After a successful setup (the desk opens on the settings page): to the queue, live.
 */
export async function afterSetup(ui) {
  const s = await waitState(ui, (x) => x.present['settings-page'] || x.present.queue, 'the desk after setup', T.start);
  assert.equal(s.setupError, '', `setup-error shown: ${s.setupError}`);
  if (!s.present.queue) await ui.click('nav-queue');
  await waitState(ui, (x) => x.present.queue && x.live === 'live', 'the queue, live, after setup', T.start);
}

/**
 * Signs in with a password an admin reset: password-change-form must show instead of the queue;
 * the new password is set there, then the queue shows, live.
 */
export async function loginAndChangePassword(ui, username, temporary, newPassword) {
  await waitState(ui, (s) => s.present['login-form'], 'the sign-in form', T.start);
  await ui.type('login-username', username);
  await ui.type('login-password', temporary);
  await ui.click('login-submit');
  const s = await waitState(ui, (x) => x.present['password-change-form'] || x.present.queue || x.loginError, 'password-change-form after signing in', T.start);
  assert.equal(s.loginError, '', `login-error shown: ${s.loginError}`);
  assert.ok(s.present['password-change-form'], 'an account whose password was reset must choose a new one first');
  assert.equal(s.present.queue, false, 'no queue before the new password is chosen');
  await ui.type('password-current', temporary);
  await ui.type('password-new', newPassword);
  await ui.type('password-new2', newPassword);
  await ui.click('password-submit');
  const after = await waitState(ui, (x) => x.present.queue || x.passwordError, 'the queue after choosing the new password', T.start);
  assert.equal(after.passwordError, '', `password-error shown: ${after.passwordError}`);
  await waitState(ui, (x) => x.live === 'live', 'live-status to read "live" after the new password', T.start);
}

/** Waits for the case of `requesterId` to appear in the queue, held with a countdown. */
export async function waitHeldRow(ui, requesterId) {
  const s = await waitState(
    ui,
    (x) => x.rows.some((r) => r.requesterId === requesterId),
    `queue-row data-requester-id=${requesterId}`,
    T.appear,
  );
  const row = s.rows.find((r) => r.requesterId === requesterId);
  assert.equal(row.status, 'pending', 'a new case is pending');
  assert.equal(row.held, 'true', 'Ditto ID is still waiting for this case: data-held="true"');
  assert.ok(row.countdown, 'a held row shows hold-countdown');
  assert.match(row.countdown, /\b\d+:\d\d\b/, `hold-countdown shows the time left as m:ss: "${row.countdown}"`);
  assert.match(row.reference ?? '', /\S/, 'data-reference is set');
  return row;
}

/** The seconds of an m:ss countdown. */
const seconds = (countdown) => {
  const m = /\b(\d+):(\d\d)\b/.exec(countdown ?? '');
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
};

/** The countdown of a held row goes down while we watch (it is a live countdown). */
export async function countdownTicks(ui, requesterId) {
  const first = (await snapshot(ui)).rows.find((r) => r.requesterId === requesterId);
  const start = seconds(first?.countdown);
  assert.ok(Number.isFinite(start), `countdown readable: ${first?.countdown}`);
  // hold_secs is 60; a display rounded up from a clock read up to a second old may say 61.
  assert.ok(start > 0 && start <= 61, `countdown within hold_secs (60): ${start}`);
  await waitState(
    ui,
    (x) => {
      const r = x.rows.find((y) => y.requesterId === requesterId);
      return r && seconds(r.countdown) < start;
    },
    `hold-countdown to go below ${start} s`,
    10_000,
  );
}

function selectedIndex(s) {
  return s.rows.findIndex((r) => r.selected === 'true');
}

async function pressAndExpectSelection(ui, key, expectIndex, label) {
  await ui.press(key);
  await waitState(
    ui,
    (x) => selectedIndex(x) === expectIndex && x.rows.filter((r) => r.selected === 'true').length === 1,
    `"${key}" to put aria-selected on row ${expectIndex} (${label})`,
  );
}

/**
 * Selects the row of `requesterId` with the keyboard only (`down`/`up` keys: j/k or arrows), and
 * checks on the way that the keys really move (or, with one row, keep) the selection.
 */
export async function selectByKeyboard(ui, requesterId, { down = 'j', up = 'k' } = {}) {
  let s = await snapshot(ui);
  assert.equal(s.focusInTextField, false, `no text field may hold the focus in the queue (focus: ${s.focus})`);
  const target = s.rows.findIndex((r) => r.requesterId === requesterId);
  assert.ok(target >= 0, 'target row present');
  const n = s.rows.length;
  let cur = selectedIndex(s);
  if (cur < 0) {
    await pressAndExpectSelection(ui, down, 0, 'first key selects the first row');
    cur = 0;
  }
  if (n === 1) {
    // One row: down and up keep it selected (the selection is clamped, not lost).
    await pressAndExpectSelection(ui, down, 0, 'clamped at the last row');
    await pressAndExpectSelection(ui, up, 0, 'clamped at the first row');
  } else {
    // Walk to the target one row at a time, checking each step.
    while (cur !== target) {
      const key = target > cur ? down : up;
      cur += target > cur ? 1 : -1;
      await pressAndExpectSelection(ui, key, cur, 'moving to the target');
    }
  }
  s = await snapshot(ui);
  assert.equal(s.rows[selectedIndex(s)]?.requesterId, requesterId, 'the target row is aria-selected');
}

/** Enter opens the selected case: case-view with the row's reference. */
export async function openSelected(ui, reference) {
  await ui.press('Enter');
  const s = await waitState(ui, (x) => x.caseView?.reference === reference, `case-view data-reference=${reference}`);
  assert.equal(s.caseView.status, 'pending');
  return s;
}

/**
 * The case view shows the payload's values: the portrait, selfie and front page images loaded
 * at the size sent, the face and liveness scores, and the Document number by source.
 */
export async function checkCaseShowsPayload(ui, exp) {
  let c;
  try {
    c = await waitUntil(
      async () => {
        c = await ui.js(caseProbe, 'Document number');
        if (!c) return null;
        const loaded = ['portrait_image', 'selfie', 'front_page'].every((n) =>
          c.images.some((i) => i.name === n && i.complete && i.naturalWidth > 0),
        );
        return loaded && c.face !== undefined && c.liveness !== undefined && c.row ? c : null;
      },
      { timeout: T.ui, what: 'case-view images loaded, scores and the Document number row' },
    );
  } catch (e) {
    e.message += `\nlast case state: ${JSON.stringify(c)}`;
    throw e;
  }
  for (const name of ['portrait_image', 'selfie', 'front_page']) {
    const imgs = c.images.filter((i) => i.name === name);
    assert.ok(imgs.length >= 1, `case-image data-image=${name} present`);
    for (const img of imgs) {
      assert.equal(img.tag, 'img', `case-image ${name} is an <img>`);
      assert.ok(img.complete && img.naturalWidth > 0, `case-image ${name} loaded: ${JSON.stringify(img)}`);
      const sent = exp.imageSizes[name];
      assert.deepEqual(
        [img.naturalWidth, img.naturalHeight],
        [sent.width, sent.height],
        `case-image ${name} is the image Ditto ID sent (same pixel size)`,
      );
    }
  }
  assert.equal(Number(c.face), exp.faceScore, `score-face data-value (${c.face}) = kyc_info.face_matcher_result.score`);
  assert.equal(Number(c.liveness), exp.livenessScore, `score-liveness data-value (${c.liveness}) = liveness score`);
  assert.equal(c.row.MRZ, exp.docNumberMrz, 'Document number, MRZ cell = field_source_and_values.M');
  assert.equal(c.row.Visual, exp.docNumberVisual, 'Document number, Visual cell = field_source_and_values.V');
  assert.equal(c.row.value, exp.docNumberValue, 'Document number, final value = field_value');
  assert.equal(c.appId, exp.appId, 'app-id = request_info.app_id');
  assert.equal(c.portraitLabel, `Document portrait · from the ${exp.portraitFrom}`, 'the portrait says where it was read');
  for (const name of exp.nationalFields) assert.ok(c.fields.includes(name), `fields-table row ${name} (locale by name): ${c.fields}`);
  assert.deepEqual(c.checkImages.sort(), exp.checkImages.sort(), 'each check shows the images Ditto ID sent with it');
  assert.ok(c.matchPercentages.includes(`match ${exp.hologramMatch}%`), `match-percentage of the hologram check: ${c.matchPercentages}`);
  return c;
}

/**
 * `a`, then Enter in confirm-dialog; waits for decision-summary. With `cancelFirst`, the first
 * confirm-dialog is dismissed with Escape, which must leave the case undecided.
 */
export async function approveByKeyboard(ui, reference, reviewer, { cancelFirst = false, overrideShot, mustOverride = false } = {}) {
  if (cancelFirst) {
    await ui.press('a');
    await waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog after "a"');
    await ui.press('Escape');
    const s = await waitState(ui, (x) => !x.present['confirm-dialog'], 'Escape to close confirm-dialog');
    assert.equal(s.caseView?.reference, reference, 'Escape keeps the case open');
    assert.equal(s.caseView?.status, 'pending', 'Escape in confirm-dialog decides nothing');
    assert.equal(s.summary, null, 'no decision-summary after cancelling');
  }
  await ui.press('a');
  await waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog after "a"');
  // Approving over error findings: the dialog lists them and wants a comment first.
  const override = await ui.js(() => {
    const q = (id) => document.querySelector(`[data-testid="${id}"]`);
    return q('confirm-comment')
      ? { findings: q('confirm-findings')?.textContent ?? '', disabled: q('confirm-yes').disabled }
      : null;
  });
  if (override) {
    assert.match(override.findings, /overrides/, 'the dialog names the findings the approval overrides');
    assert.equal(override.disabled, true, 'no approval over error findings without a comment');
    await ui.press('Enter');
    assert.ok((await snapshot(ui)).present['confirm-dialog'], 'Enter without a comment decides nothing');
    await ui.type('confirm-comment', 'Checked with the customer by phone');
    if (overrideShot) await ui.screenshot(overrideShot);
  } else {
    assert.ok(!mustOverride, 'approving this case overrides error findings: the dialog must ask why');
  }
  await ui.press('Enter');
  return decided(ui, reference, 'approved', reviewer);
}

async function decided(ui, reference, status, reviewer) {
  const s = await waitState(
    ui,
    (x) => !x.present['confirm-dialog'] && x.summary && x.caseView?.status === status,
    `confirm-dialog closed, case-view data-status=${status} and decision-summary shown`,
    T.answer,
  );
  assert.equal(s.caseView.reference, reference);
  assert.ok(s.summary.includes(reviewer), `decision-summary names who decided (${reviewer}): "${s.summary}"`);
  // ... and what Ditto ID was answered (once the held request got it).
  const answered = status === 'approved' ? 'true' : 'false';
  const other = status === 'approved' ? 'false' : 'true';
  const s2 = await waitState(
    ui,
    (x) => x.summary && new RegExp(`\\b${answered}\\b`).test(x.summary),
    `decision-summary to tell that Ditto ID was answered ${answered}`,
    T.answer,
  );
  assert.doesNotMatch(s2.summary, new RegExp(`\\b${other}\\b`), `decision-summary must not claim ${other}: "${s2.summary}"`);
  return s2;
}

export const reasons = (ui) => ui.js(reasonsProbe);

/** `r` (the reasons the findings suggest come ticked), the first reason (with `1` unless ticked; other suggestions unticked), then confirm (Enter); waits for decision-summary. */
export async function rejectByKeyboard(ui, reference, reviewer, { confirmShot } = {}) {
  await ui.press('r');
  const before = await waitUntil(async () => {
    const r = await reasons(ui);
    return r.length ? r : null;
  }, { what: 'reason-option elements after "r"' });
  assert.ok(before.every((r) => r.code), 'every reason-option has data-code');
  // Reject mode starts with the reasons the case's findings suggest ticked (none for a clean case).
  const suggested = before.filter((r) => r.on).map((r) => r.code);
  if (suggested.length) {
    assert.equal(await ui.js(() => !!document.querySelector('[data-testid="suggested-note"]')), true, 'the desk says which reasons it ticked');
  }
  if (!before[0].on) {
    await ui.press('1');
    await waitUntil(async () => {
      const r = await reasons(ui);
      return r[0]?.on ? r : null;
    }, { what: 'the first reason-option to be picked by "1"' });
  }
  const after = await reasons(ui);
  const picked = after.filter((r) => r.on).map((r) => r.code);
  assert.ok(picked.includes(before[0].code), `the first reason is picked: ${picked}`);
  if (picked.length > 1) {
    // Keep only the first reason (untick the other suggestions with their keys).
    for (const [i, r] of after.entries()) if (r.on && i > 0 && i < 9) await ui.press(String(i + 1));
    await waitUntil(async () => {
      const r = await reasons(ui);
      return r.filter((x) => x.on).length === 1 ? r : null;
    }, { what: 'only the first reason picked' });
  }
  // Then confirm: Enter asks (confirm-dialog) unless the dialog is already the reject form itself,
  // and Enter in the dialog confirms.
  let s = await snapshot(ui);
  if (!s.present['confirm-dialog']) {
    await ui.press('Enter');
    s = await waitState(ui, (x) => x.present['confirm-dialog'], 'confirm-dialog after picking the reason and Enter');
  }
  if (confirmShot) await ui.screenshot(confirmShot);
  await ui.press('Enter');
  await decided(ui, reference, 'rejected', reviewer);
  return before[0].code;
}

/** After an answer: the row is no longer held (or gone from the pending list). */
export async function rowNoLongerHeld(ui, requesterId) {
  await waitState(
    ui,
    (x) => {
      const r = x.rows.find((y) => y.requesterId === requesterId);
      return !r || (r.held !== 'true' && !r.countdown);
    },
    'the decided row to stop being held',
    T.answer,
  );
}
