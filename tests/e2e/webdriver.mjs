// A minimal W3C WebDriver client over plain fetch (for tauri-driver → WebKitWebDriver), and the
// adapter flow.mjs drives.

import { writeFile } from 'node:fs/promises';

import { T, waitUntil } from './lib.mjs';

/** W3C WebDriver key codes for the named keys the suites press. */
const KEYS = {
  Enter: '\uE007',
  Escape: '\uE00C',
  ArrowUp: '\uE013',
  ArrowDown: '\uE015',
  ArrowLeft: '\uE012',
  ArrowRight: '\uE014',
  Tab: '\uE004',
};

export class WebDriver {
  constructor(base) {
    this.base = base.replace(/\/$/, '');
    this.session = null;
  }

  async cmd(method, path, body, timeoutMs = T.start) {
    const url = `${this.base}${path}`;
    const r = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${path}: HTTP ${r.status}, not JSON: ${text.slice(0, 500)}`);
    }
    if (!r.ok || (json.value && json.value.error)) {
      const v = json.value ?? {};
      throw new Error(`${method} ${path}: HTTP ${r.status} ${v.error ?? ''}: ${v.message ?? text.slice(0, 500)}`);
    }
    return json.value;
  }

  /** Waits until the driver answers GET /status with ready. */
  async waitReady(timeout = T.start, isAlive = () => true) {
    await waitUntil(
      async () => {
        if (!isAlive()) throw new Error('the WebDriver server exited');
        const v = await this.cmd('GET', '/status', undefined, 5000);
        return v && v.ready !== false;
      },
      { timeout, what: `WebDriver ${this.base}/status`, interval: 250 },
    );
  }

  async newSession(capabilities, timeoutMs = 120_000) {
    const v = await this.cmd('POST', '/session', { capabilities }, timeoutMs);
    this.session = v.sessionId;
    return v;
  }

  s(path) {
    if (!this.session) throw new Error('no WebDriver session');
    return `/session/${this.session}${path}`;
  }

  async deleteSession() {
    if (!this.session) return;
    const id = this.session;
    this.session = null;
    await this.cmd('DELETE', `/session/${id}`, undefined, 30_000);
  }

  /** Runs `return (fn)(...args)` in the page. */
  exec(fn, ...args) {
    return this.cmd('POST', this.s('/execute/sync'), {
      script: `return (${fn.toString()}).apply(null, arguments);`,
      args,
    });
  }

  async find(css) {
    const v = await this.cmd('POST', this.s('/element'), { using: 'css selector', value: css });
    return Object.values(v)[0]; // the element reference, whatever its key
  }

  click(el) {
    return this.cmd('POST', this.s(`/element/${el}/click`), {});
  }

  sendKeys(el, text) {
    return this.cmd('POST', this.s(`/element/${el}/value`), { text });
  }

  clear(el) {
    return this.cmd('POST', this.s(`/element/${el}/clear`), {});
  }

  /** One key press (down + up) through the Actions API. */
  async press(key) {
    const value = KEYS[key] ?? key;
    await this.cmd('POST', this.s('/actions'), {
      actions: [{ type: 'key', id: 'keyboard', actions: [{ type: 'keyDown', value }, { type: 'keyUp', value }] }],
    });
  }

  async screenshot(file) {
    const b64 = await this.cmd('GET', this.s('/screenshot'), undefined, 20_000);
    await writeFile(file, Buffer.from(b64, 'base64'));
  }

  /** The adapter of flow.mjs. */
  adapter() {
    const byId = (id) => `[data-testid="${id}"]`;
    return {
      js: (fn, ...args) => this.exec(fn, ...args),
      press: (key) => this.press(key),
      type: async (id, text) => {
        const el = await this.find(byId(id));
        await this.click(el);
        await this.clear(el);
        await this.sendKeys(el, text);
      },
      click: async (id) => this.click(await this.find(byId(id))),
      screenshot: (file) => this.screenshot(file),
    };
  }
}
