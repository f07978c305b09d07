// Desktop start-up benchmark (not a test): launches the real window (`KYC_DESK_BIN`, a release
// build) through tauri-driver under Xvfb RUNS times and reports the time from the launch request
// to the rendered sign-in screen, from signing in to the rendered queue, and the idle memory
// (RSS of kyc-desk and of the WebKit processes it started) 5 s after the queue shows.
//   KYC_DESK_BIN=target/release/kyc-desk node tests/e2e/startup.bench.mjs [RUNS]

import { readFile, readdir } from 'node:fs/promises';

import { Cleanup, BIN, addUser, delay, makeTempDir, writeConfig } from './lib.mjs';
import { startDriver } from './desktop-env.mjs';

const RUNS = Number(process.argv[2] ?? 5);
const USER = 'bench';
const PASSWORD = 'Silver-Canyon-Thistle-29';

/** RSS of a process in KiB: total, anonymous (heap, stacks) and file-backed (code, libraries). */
async function rssKiB(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { total: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') + field('RssShmem') };
  } catch {
    return { total: 0, anon: 0, file: 0 };
  }
}

async function cmdline(pid) {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The app's process and the WebKit helpers (web, network) running now. */
async function appProcesses(config) {
  const out = { app: 0, appAnon: 0, appFile: 0, webkit: 0 };
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await cmdline(pid);
    if (cmd.includes(BIN) && cmd.includes(config)) {
      const rss = await rssKiB(pid);
      out.app += rss.total;
      out.appAnon += rss.anon;
      out.appFile += rss.file;
    } else if (/WebKit(Web|Network)Process/.test(cmd)) out.webkit += (await rssKiB(pid)).total;
  }
  return out;
}

async function until(ui, testid, timeout = 30_000) {
  const t0 = Date.now();
  for (;;) {
    const there = await ui.js((id) => !!document.querySelector(`[data-testid="${id}"]`), testid);
    if (there) return;
    if (Date.now() - t0 > timeout) throw new Error(`${testid} did not appear`);
    await delay(10);
  }
}

const rows = [];
for (let run = 1; run <= RUNS; run++) {
  const cleanup = new Cleanup();
  try {
    const dir = cleanup.dir(await makeTempDir('kyc-bench-startup-'));
    const { path: config } = await writeConfig(dir);
    await addUser(config, USER, PASSWORD);
    const { wd } = await startDriver(dir, cleanup);
    const t0 = performance.now();
    await wd.newSession({ alwaysMatch: { 'tauri:options': { application: BIN, args: ['--config', config] } } });
    const ui = wd.adapter();
    await until(ui, 'login-form');
    const signInScreen = performance.now() - t0;
    await ui.type('login-username', USER);
    await ui.type('login-password', PASSWORD);
    const t1 = performance.now();
    await ui.click('login-submit');
    await until(ui, 'queue');
    const queue = performance.now() - t1;
    await delay(5000);
    const mem = await appProcesses(config);
    rows.push({
      signInScreen,
      queue,
      app: mem.app / 1024,
      appAnon: mem.appAnon / 1024,
      appFile: mem.appFile / 1024,
      webkit: mem.webkit / 1024,
    });
    console.error(`run ${run}: sign-in screen ${signInScreen.toFixed(0)} ms, queue ${queue.toFixed(0)} ms after sign-in, RSS app ${(mem.app / 1024).toFixed(0)} MiB + WebKit ${(mem.webkit / 1024).toFixed(0)} MiB`);
    await wd.deleteSession().catch(() => {});
  } finally {
    await cleanup.run();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const col = (k) => rows.map((r) => r[k]);
console.log(`
### Desktop start-up (${RUNS} cold launches, release build, Xvfb + software rendering)

| measurement | median | min | max | goal |
|---|---:|---:|---:|---:|
| launch → sign-in screen rendered (incl. WebDriver session set-up) | ${median(col('signInScreen')).toFixed(0)} ms | ${Math.min(...col('signInScreen')).toFixed(0)} ms | ${Math.max(...col('signInScreen')).toFixed(0)} ms | < 1500 ms to the queue |
| sign-in → queue rendered | ${median(col('queue')).toFixed(0)} ms | ${Math.min(...col('queue')).toFixed(0)} ms | ${Math.max(...col('queue')).toFixed(0)} ms | |
| idle RSS, kyc-desk process | ${median(col('app')).toFixed(0)} MiB | ${Math.min(...col('app')).toFixed(0)} MiB | ${Math.max(...col('app')).toFixed(0)} MiB | < 150 MiB |
| of which anonymous (heap, stacks) | ${median(col('appAnon')).toFixed(0)} MiB | ${Math.min(...col('appAnon')).toFixed(0)} MiB | ${Math.max(...col('appAnon')).toFixed(0)} MiB | |
| of which file-backed (binary, libraries) | ${median(col('appFile')).toFixed(0)} MiB | ${Math.min(...col('appFile')).toFixed(0)} MiB | ${Math.max(...col('appFile')).toFixed(0)} MiB | |
| idle RSS, WebKit web + network processes | ${median(col('webkit')).toFixed(0)} MiB | ${Math.min(...col('webkit')).toFixed(0)} MiB | ${Math.max(...col('webkit')).toFixed(0)} MiB | |

Command: \`KYC_DESK_BIN=target/release/kyc-desk node tests/e2e/startup.bench.mjs ${RUNS}\`
`);
