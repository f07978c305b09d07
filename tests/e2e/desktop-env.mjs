// Starts tauri-driver under Xvfb with a private session bus and temporary XDG dirs: what the
// desktop suite and the desktop start-up benchmark share.

import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Proc, T, freePort } from './lib.mjs';
import { WebDriver } from './webdriver.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

export const PATH = [join(homedir(), '.cargo', 'bin'), process.env.PATH].join(delimiter);

export function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH }, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/**
 * Runs tauri-driver in `dir` (XDG dirs and a bus config are made there) with `env` added to the
 * app's environment; returns the driver process and a WebDriver client that is ready.
 */
export async function startDriver(dir, cleanup, env = {}) {
  const xdg = {};
  for (const [k, sub] of [['XDG_DATA_HOME', 'data'], ['XDG_CONFIG_HOME', 'config'], ['XDG_CACHE_HOME', 'cache'], ['XDG_RUNTIME_DIR', 'runtime']]) {
    xdg[k] = join(dir, 'xdg', sub);
    await mkdir(xdg[k], { recursive: true });
  }
  await chmod(xdg.XDG_RUNTIME_DIR, 0o700);

  // The one service the bus may start: a stand-in notification server (notifyd.py) that logs
  // every notification to notifications.jsonl in `dir` and clicks it.
  const serviceDir = join(dir, 'dbus-services');
  await mkdir(serviceDir, { recursive: true });
  await writeFile(join(serviceDir, 'org.freedesktop.Notifications.service'), `[D-BUS Service]
Name=org.freedesktop.Notifications
Exec=/usr/bin/python3 ${join(HERE, 'notifyd.py')} ${join(dir, 'notifications.jsonl')}
`);
  // Otherwise a private session bus that activates no services: without it the app's GTK/WebKit would
  // start the desktop portals, whose document portal mounts a FUSE file system in
  // XDG_RUNTIME_DIR that can outlive the run and hang the removal of the temp dir.
  const busConfig = join(dir, 'session-bus.conf');
  await writeFile(busConfig, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=${xdg.XDG_RUNTIME_DIR}</listen>
  <servicedir>${serviceDir}</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`);

  const [driverPort, nativePort] = [await freePort(), await freePort()];
  const driverProc = new Proc(
    'xvfb-run',
    ['-a', '-s', '-screen 0 1920x1080x24', 'dbus-run-session', `--config-file=${busConfig}`, '--', 'tauri-driver', '--port', String(driverPort), '--native-port', String(nativePort)],
    {
      name: 'tauri-driver',
      env: {
        PATH,
        ...xdg,
        ...env,
        NO_AT_BRIDGE: '1', // no accessibility bus either
        // Software rendering: no GPU under Xvfb.
        WEBKIT_DISABLE_COMPOSITING_MODE: '1',
        WEBKIT_DISABLE_DMABUF_RENDERER: '1',
        LIBGL_ALWAYS_SOFTWARE: '1',
      },
    },
  );
  cleanup.child(driverProc.child);
  const wd = new WebDriver(`http://127.0.0.1:${driverPort}`);
  try {
    await wd.waitReady(T.start, () => !driverProc.exited);
  } catch (e) {
    e.message += `\n${driverProc.describe()}`;
    throw e;
  }
  return { driverProc, wd };
}
