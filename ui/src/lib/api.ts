// The one module that talks to KYC Desk's review API (same origin; session cookie + bearer token).
import { tauri } from "./desktop";
import type { components } from "./api-types";

// The API's types, generated from the server's OpenAPI document (api-types.ts, `npm run gen:api`):
// the Rust types are the one definition; `npm run check` fails when these drift from them.
type Schemas = components["schemas"];
/** What an account may do beyond reading cases, as the server's one permission table says. */
export type Permission = Schemas["Permission"];
export type User = Schemas["User"];
export type Account = Schemas["Account"];
export type Flag = Schemas["Flag"];
export type Answer = Schemas["Answer"];
export type CaseSummary = Schemas["CaseSummary"];
export type Score = Schemas["Score"];
export type FieldRow = Schemas["FieldRow"];
export type ImageInfo = Schemas["ImageInfo"];
export type DecisionRecord = Schemas["DecisionRecord"];
export type CheckDetail = Schemas["CheckDetail"];
export type Check = Schemas["Check"];
export type DocumentView = Schemas["DocumentView"];
export type CaseDetail = Schemas["CaseDetail"];
export type MrzDigit = Schemas["MrzDigit"];
export type Note = Schemas["Note"];
export type AuditEntry = Schemas["AuditEntry"];
export type CasePage = Schemas["CasePage"];
export type Reason = Schemas["Reason"];
export type Settings = Schemas["SettingsView"];
export type StatsDay = Schemas["Day"];
export type ReviewerStats = Schemas["ReviewerStats"];
export type Stats = Schemas["Stats"];
export type Delivery = Schemas["DeliveryInfo"];

/** Whether the signed-in account may do `p`. */
export const may = (user: User | null | undefined, p: Permission) => !!user?.permissions?.includes(p);
export const ROLES = ["reviewer", "supervisor", "admin", "auditor"] as const;
export interface SetupStatus { needs_setup: boolean; code_required?: boolean; receiver_url: string; tls_fingerprint: string; auth_mode: string; plain_http_on_network?: boolean }
export interface CaseFilters {
  status?: string; q?: string; flag?: string; document_type?: string; from?: string; to?: string;
  answered_by?: string; user_id?: string; assignee?: string; awaiting_second?: string; cursor?: string; limit?: number;
}
/** `case.erased` carries only the case's id and reference. */
export interface DeskEvent { type: "case.created" | "case.decided" | "case.answered" | "case.assigned" | "case.erased"; case: CaseSummary; hold_until?: string }
/** Case id → the names of the reviewers who have it open now. */
export type Viewers = Record<string, string[]>;
export interface AuditPage { entries: AuditEntry[]; next: number | null }
export interface AuditCheckpoint { entry_id: number; hash: string; at: string; line: string }
export type AuditVerdict =
  | { intact: true; entries: number; checkpoints: number; last_checkpoint: AuditCheckpoint | null }
  | { intact: false; broken_at: number; reason: string; checkpoints: number };

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

const TOKEN_KEY = "kyc-desk-token";
/** Called when the server says the session is gone (expired, signed out elsewhere, account disabled...). */
let sessionExpired: (() => void) | null = null;
export function onSessionExpired(f: () => void) { sessionExpired = f; }
/** Called when the server refuses a call until the account's password is changed. */
let passwordChangeRequired: (() => void) | null = null;
export function onPasswordChangeRequired(f: () => void) { passwordChangeRequired = f; }
let token: string | null = sessionStorage.getItem(TOKEN_KEY);
/** Whether this page believes it is signed in (a 401 then means the session ended). */
let active = token !== null;

function storeSession(t: string) {
  token = t;
  active = true;
  sessionStorage.setItem(TOKEN_KEY, t);
}
function dropSession() {
  token = null;
  active = false;
  sessionStorage.removeItem(TOKEN_KEY);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers["Authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (!resp.ok) throw await failure(resp, path);
  if (resp.status === 204) return undefined as T;
  return resp.json() as Promise<T>;
}

/**
 * The ApiError of a refused call; tells the desk when the answer means the session is over (401)
 * or the password must be changed first (403 password_change_required).
 */
async function failure(resp: Response, path: string): Promise<ApiError> {
  let code = "http_" + resp.status, message = resp.statusText;
  try { const j = await resp.json(); code = j.error ?? code; message = j.message ?? message; } catch { /* not JSON */ }
  // A wrong password (sign-in, setup, or the current one when changing it) is not a lost session.
  if (resp.status === 401 && path !== "/api/login" && path !== "/api/setup" && code !== "bad_credentials") {
    const had = active;
    dropSession();
    if (had) sessionExpired?.();
  }
  if (resp.status === 403 && code === "password_change_required") passwordChangeRequired?.();
  return new ApiError(resp.status, code, message);
}

interface SessionReply { token: string; user: User; expires_at: string }

export async function login(username: string, password: string): Promise<User> {
  const r = await call<SessionReply>("POST", "/api/login", { username, password });
  storeSession(r.token);
  return r.user;
}
/** First run: the setup code (printed by `kyc-desk serve`, or handed to the desktop window) and the first admin. */
export async function setup(setupCode: string, username: string, password: string): Promise<User> {
  const r = await call<SessionReply>("POST", "/api/setup", { setup_code: setupCode, username, password });
  storeSession(r.token);
  return r.user;
}
/**
 * Changes the signed-in account's own password. The server ends every session of the account
 * (this one too) and answers with a new one, which is kept like a sign-in's.
 */
export async function changePassword(currentPassword: string, newPassword: string): Promise<User> {
  const r = await call<SessionReply>("POST", "/api/me/password", { current_password: currentPassword, new_password: newPassword });
  storeSession(r.token);
  return r.user;
}
export const setupStatus = () => call<SetupStatus>("GET", "/api/setup");
export const settings = () => call<Settings>("GET", "/api/settings");
export const dittoConfig = () => call<unknown>("GET", "/api/settings/ditto-config");
export const users = () => call<Account[]>("GET", "/api/users");
export const addUser = (username: string, role: string, password: string) =>
  call<User>("POST", "/api/users", { username, role, password });
const userPath = (name: string, action: string) => `/api/users/${encodeURIComponent(name)}/${action}`;
/** Admin actions on an account; each ends that account's sessions at once and answers the updated account. */
export const disableUser = (name: string) => call<Account>("POST", userPath(name, "disable"));
export const enableUser = (name: string) => call<Account>("POST", userPath(name, "enable"));
export const setRole = (name: string, role: string) => call<Account>("POST", userPath(name, "role"), { role });
/** Sets a temporary password; the account must choose a new one at its next sign-in. */
export const resetPassword = (name: string, password: string) =>
  call<Account>("POST", userPath(name, "reset-password"), { password });
export const facets = () => call<{ document_types: string[]; flag_codes: string[] }>("GET", "/api/facets");

export async function logout(): Promise<void> {
  active = false; // a 401 here is no news
  try { await call("POST", "/api/logout"); } finally { dropSession(); }
}
export async function me(): Promise<User> {
  const u = await call<User>("GET", "/api/me");
  active = true; // signed in (possibly by the session cookie alone, e.g. a second tab)
  return u;
}
export function listCases(params: CaseFilters = {}): Promise<CasePage> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") qs.set(k, String(v));
  return call<CasePage>("GET", `/api/cases?${qs}`);
}
export const getCase = (id: number | string) => call<CaseDetail>("GET", `/api/cases/${encodeURIComponent(String(id))}`);
export const imageUrl = (id: number | string, name: string) => `/api/cases/${encodeURIComponent(String(id))}/images/${encodeURIComponent(name)}`;
export const decide = (id: number, decision: "approve" | "reject", reasons: string[], comment: string, userId?: string) =>
  call<CaseDetail>("POST", `/api/cases/${id}/decision`, { decision, reasons, comment, ...(userId ? { user_id: userId } : {}) });
export const deliveries = (caseId: number) => call<{ deliveries: Delivery[] }>("GET", `/api/deliveries?case=${caseId}`);
export const resendDelivery = (id: number) => call<void>("POST", `/api/deliveries/${id}/resend`);

/**
 * Live events; the session cookie authenticates the stream. The server ends the stream when the
 * session ends (signed out elsewhere, expired, account disabled, role changed, password reset):
 * whenever the stream breaks, /api/me tells why. A 401 there ends the session in the desk (the
 * onSessionExpired handler) and the stream is not opened again; a password that must be changed
 * calls the onPasswordChangeRequired handler; otherwise the stream is opened again, with a growing
 * pause while the server cannot be reached. `onResync` is called when events may have been missed
 * (the server says `resync`, or the stream is open again after a break): read the lists again.
 * Returns a function that closes it.
 */
export function subscribe(onEvent: (e: DeskEvent) => void, onState: (live: boolean) => void, onViewers?: (v: Viewers) => void, onResync?: () => void): () => void {
  let es: EventSource | null = null;
  let wasOpen = false;
  let stopped = false;
  let checking = false;
  let retry: ReturnType<typeof setTimeout> | null = null;
  let pause = 1000;
  const handler = (m: MessageEvent) => { try { onEvent(JSON.parse(m.data)); } catch { /* ignore */ } };

  function stop() {
    stopped = true;
    if (retry !== null) { clearTimeout(retry); retry = null; }
    es?.close();
    es = null;
  }
  function open() {
    retry = null;
    if (stopped) return;
    es?.close();
    const source = new EventSource("/api/events", { withCredentials: true });
    es = source;
    for (const t of ["case.created", "case.decided", "case.answered", "case.assigned", "case.erased"]) source.addEventListener(t, handler as EventListener);
    source.addEventListener("presence", ((m: MessageEvent) => { try { onViewers?.(JSON.parse(m.data).viewers); } catch { /* ignore */ } }) as EventListener);
    source.addEventListener("resync", (() => onResync?.()) as EventListener);
    source.onopen = () => {
      pause = 1000;
      onState(true);
      if (wasOpen) onResync?.();
      wasOpen = true;
    };
    source.onerror = () => { if (es === source) { onState(false); void check(); } };
  }
  /** Opens the stream again later if the browser gave up on it (it retries dropped connections itself). */
  function reopenIfClosed() {
    if (stopped || retry !== null || (es && es.readyState !== EventSource.CLOSED)) return;
    retry = setTimeout(open, pause);
    pause = Math.min(pause * 2, 30_000);
  }
  async function check() {
    if (checking || stopped) return;
    checking = true;
    try {
      const u = await me();
      if (stopped) return;
      if (u.must_change_password) { stop(); passwordChangeRequired?.(); return; }
      reopenIfClosed();
    } catch (e) {
      if (stopped) return;
      // The session is over (the handlers were called by `call`): no more reconnecting.
      if (e instanceof ApiError && (e.status === 401 || e.code === "password_change_required")) { stop(); return; }
      reopenIfClosed(); // the server is unreachable or failing: try again later
    } finally { checking = false; }
  }
  open();
  return stop;
}

/** A heartbeat of the case open here (every few seconds while it stays open), and its closing. */
export const present = (id: number) => call<void>("PUT", `/api/cases/${id}/presence`);
export const absent = (id: number) => call<void>("DELETE", `/api/cases/${id}/presence`);
export const addNote = (id: number, text: string) => call<CaseDetail>("POST", `/api/cases/${id}/notes`, { text });
export const escalate = (id: number, to: string, reason: string) => call<CaseDetail>("POST", `/api/cases/${id}/escalate`, { to, reason });
export const supervisors = () => call<string[]>("GET", "/api/supervisors");
export const assign = (id: number, to: string | null) => call<CaseSummary>("POST", `/api/cases/${id}/assign`, { to });
export const erase = (id: number, reason: string) => call<{ erased: string }>("POST", `/api/cases/${id}/erase`, { reason });
export function stats(from?: string, to?: string): Promise<Stats> {
  const qs = new URLSearchParams();
  if (from) qs.set("from", from);
  if (to) qs.set("to", to);
  return call<Stats>("GET", `/api/stats?${qs}`);
}
/** What the audit page and its CSV export are narrowed to. */
export interface AuditFilters { actor?: string; action?: string; from?: string; to?: string; case?: string }
export function auditCsvPath(p: AuditFilters = {}): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== "") qs.set(k, String(v));
  return `/api/audit/export.csv?${qs}`;
}
export function auditTrail(p: AuditFilters & { before?: number; limit?: number } = {}): Promise<AuditPage> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== "") qs.set(k, String(v));
  return call<AuditPage>("GET", `/api/audit?${qs}`);
}
export const verifyAudit = () => call<AuditVerdict>("GET", "/api/audit/verify");
/** The case report, its times in this browser's time zone. */
export const reportPath = (id: number) => `/api/cases/${id}/report.pdf?utc_offset=${-new Date().getTimezoneOffset()}`;
export function decisionsCsvPath(from?: string, to?: string): string {
  const qs = new URLSearchParams();
  if (from) qs.set("from", from);
  if (to) qs.set("to", to);
  return `/api/exports/decisions.csv?${qs}`;
}

/** Progress of a download: bytes and, for the CSV export, rows (of `total` announced by the server). */
export interface Progress { bytes: number; rows?: number; total?: number }

/** What `download` did: saved (desktop: where), handed to the browser, or cancelled in the dialog. */
/** Where a download went, and the SHA-256 the server recorded for it (reports). */
export type Saved = ({ kind: "saved"; path: string } | { kind: "downloaded"; name: string } | { kind: "cancelled" }) & { sha256?: string };


/**
 * Fetches a file from the review API with progress, then saves it: in the desktop app through the
 * native save dialog (the `save_file` command), in a browser as a download.
 */
export async function download(path: string, onProgress?: (p: Progress) => void): Promise<Saved> {
  const headers: Record<string, string> = {};
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const resp = await fetch(path, { headers, credentials: "same-origin" });
  if (!resp.ok) throw await failure(resp, path);
  const name = /filename="([^"]+)"/.exec(resp.headers.get("content-disposition") ?? "")?.[1] ?? "download";
  const sha256 = resp.headers.get("x-report-sha256") ?? undefined;
  const mime = resp.headers.get("content-type") ?? "application/octet-stream";
  const totalHeader = resp.headers.get("x-export-rows");
  const total = totalHeader === null ? undefined : Number(totalHeader);
  const chunks: Uint8Array[] = [];
  let bytes = 0, newlines = 0;
  const reader = resp.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.length;
    if (total !== undefined) for (const b of value) if (b === 10) newlines++;
    onProgress?.({ bytes, ...(total !== undefined ? { rows: Math.min(total, Math.max(0, newlines - 1)), total } : {}) });
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  const t = tauri();
  if (t) {
    const path = await t.invoke("save_file", all, { headers: { "x-file-name": encodeURIComponent(name) } });
    return path ? { kind: "saved", path: String(path), sha256 } : { kind: "cancelled" };
  }
  const url = URL.createObjectURL(new Blob([all], { type: mime }));
  const a = document.createElement("a");
  a.href = url; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { kind: "downloaded", name, sha256 };
}
