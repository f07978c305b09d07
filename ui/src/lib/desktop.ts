// The desktop app's own extras, through the window's Tauri IPC (none of this runs in a browser):
// the notification of a case Ditto ID waits on, this computer's settings (notifications, the team
// server it connects to), and the connect screen's commands.
import type { CaseSummary } from "./api";

export interface TauriInternals {
  invoke: (cmd: string, args?: unknown, options?: { headers?: Record<string, string> }) => Promise<unknown>;
}
export function tauri(): TauriInternals | null {
  return (window as unknown as { __TAURI_INTERNALS__?: TauriInternals }).__TAURI_INTERNALS__ ?? null;
}
export const inDesktop = () => tauri() !== null;

/** How this computer's app runs: a desk of its own, or a client of a team server. */
export interface DesktopInfo {
  mode: "local" | "client" | "none"; server: string | null; fingerprint: string | null; notifications: boolean; config_path: string;
}
/** The window's connect screen: what is configured, and why the last attempt failed. */
export interface ConnectState {
  server: string | null; fingerprint: string | null; error: { code: string; message: string } | null; has_local_desk: boolean;
}
/** A failed command: `{code, message}`. */
export interface CommandError { code: string; message: string }
export function errorOf(e: unknown): CommandError {
  if (e && typeof e === "object" && "message" in e) return { code: String((e as CommandError).code ?? "error"), message: String((e as CommandError).message) };
  return { code: "error", message: String(e) };
}

async function invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  const t = tauri();
  if (!t) throw { code: "not_desktop", message: "only in the desktop app" };
  return (await t.invoke(cmd, args)) as T;
}

export const info = () => invoke<DesktopInfo>("desktop_info");
export const setNotifications = (on: boolean) => invoke<void>("set_notifications", { on });
/** Back to the connect screen (the window's menu does the same). */
export const changeServer = () => invoke<void>("change_server");
export const connectState = () => invoke<ConnectState>("connect_state");
/** The fingerprint of the certificate a server presents (trust on first use asks about it). */
export const probeServer = (server: string) => invoke<string>("probe_server", { server });
/** Pins `fingerprint` for `server`, keeps the choice, and opens the team's desk. */
export const connectServer = (server: string, fingerprint: string) => invoke<void>("connect_server", { server, fingerprint });
/** Starts (or goes back to) the desk on this computer. */
export const startLocal = () => invoke<void>("start_local");

/**
 * A case arrived that Ditto ID waits on: a native notification when the window is not focused
 * (the app checks focus and the setting itself; clicking it opens the case here).
 */
export function waiting(c: CaseSummary, holdUntil: string) {
  if (!tauri() || document.hasFocus()) return;
  const secondsLeft = Math.max(0, Math.round((Date.parse(holdUntil) - Date.now()) / 1000));
  invoke("notify_waiting", { caseId: c.id, reference: c.reference, secondsLeft }).catch(() => {});
}
