// The one module that talks to KYC Desk's review API (same origin; session cookie + bearer token).

export interface User { name: string; role: string }
export interface Flag { code: string; severity: "info" | "warning" | "error"; message: string }
export interface Answer { result: boolean; at: string; by: string; user_id: string; reference: string }
export interface CaseSummary {
  id: number; reference: string; requester_id: string; user_id: string;
  status: "pending" | "approved" | "rejected"; received_at: string;
  holder_name: string | null; document_number: string | null; document_type: string | null;
  flags: Flag[]; answer: Answer | null; assignee: string | null; hold_until?: string;
}
export interface Score { value: number | null; threshold: number; passed: boolean | null }
export interface FieldRow { name: string; value: string | null; status: string | null; sources: Record<string, string>; mismatch: boolean }
export interface ImageInfo { name: string; mime: string; width: number; height: number; size: number }
export interface DecisionRecord {
  decision: string; reasons: string[]; comment: string; by: string; by_user: string | null; at: string;
  rule: string | null; link_user_id: string | null; final: boolean;
}
export interface CheckDetail { element?: string; status?: string; detail?: string; source?: string; source1?: string; source2?: string; match_percentage?: string }
export interface Check { check_category?: string; check_name?: string; check_status?: string; check_detail: CheckDetail[] }
export interface DocumentView {
  types: string[]; names: string[]; overall_status: string | null; errors: string[]; warnings: string[];
  is_nfc_document: boolean | null; nfc_scan_status: string | null; nfc_scan_status_reason: string | null; checks: Check[];
}
export interface CaseDetail extends CaseSummary {
  app_id: string | null; face_match: Score; liveness: Score; face_score_percent: number | null;
  document: DocumentView | null; fields: FieldRow[]; images: ImageInfo[]; decisions: DecisionRecord[];
  history: CaseSummary[]; timeline: AuditEntry[]; raw: unknown;
}
export interface AuditEntry { id: number; at: string; actor: string; action: string; case_id: number | null; detail: Record<string, unknown> }
export interface CasePage { cases: CaseSummary[]; next: string | null; held: CaseSummary[] }
export interface Reason { code: string; label: string }
export interface Settings {
  receiver_url: string; tls_fingerprint: string; tls_self_signed: boolean; auth_mode: string; token_url: string | null;
  request_encryption: string | null; response_encryption: string | null; custom_body_fields: string[];
  hold_secs: number; on_timeout: string; auto_approve: string; face_match_threshold: number; liveness_threshold: number;
  reasons: Reason[]; four_eyes: boolean; config_path: string; data_dir: string; warnings: string[]; restart_needed_to_change: boolean;
}
export interface SetupStatus { needs_setup: boolean; receiver_url: string; tls_fingerprint: string; auth_mode: string }
export interface CaseFilters {
  status?: string; q?: string; flag?: string; document_type?: string; from?: string; to?: string;
  answered_by?: string; user_id?: string; cursor?: string; limit?: number;
}
/** `case.erased` carries only the case's id and reference. */
export interface DeskEvent { type: "case.created" | "case.decided" | "case.answered" | "case.assigned" | "case.erased"; case: CaseSummary; hold_until?: string }
export interface StatsDay { day: string; received: number; approved: number; rejected: number; pending: number; timeouts: number }
export interface ReviewerStats { name: string; decided: number; approved: number; rejected: number; median_secs: number | null }
export interface Stats {
  from: string; to: string; received: number; approved: number; rejected: number; pending: number; timeouts: number;
  approval_rate: number | null; median_secs: number | null; p90_secs: number | null; days: StatsDay[]; by_reviewer: ReviewerStats[];
}
export interface AuditPage { entries: AuditEntry[]; next: number | null }
export type AuditVerdict = { intact: true; entries: number } | { intact: false; broken_at: number; reason: string };

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

const TOKEN_KEY = "kyc-desk-token";
/** Called when the server says the session is gone (expired or signed out elsewhere). */
let sessionExpired: (() => void) | null = null;
export function onSessionExpired(f: () => void) { sessionExpired = f; }
let token: string | null = sessionStorage.getItem(TOKEN_KEY);

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers["Authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  if (!resp.ok) {
    let code = "http_" + resp.status, message = resp.statusText;
    try { const j = await resp.json(); code = j.error ?? code; message = j.message ?? message; } catch { /* not JSON */ }
    if (resp.status === 401 && path !== "/api/login" && path !== "/api/setup") {
      const had = token !== null;
      token = null; sessionStorage.removeItem(TOKEN_KEY);
      if (had) sessionExpired?.();
    }
    throw new ApiError(resp.status, code, message);
  }
  if (resp.status === 204) return undefined as T;
  return resp.json() as Promise<T>;
}

export async function login(username: string, password: string): Promise<User> {
  const r = await call<{ token: string; user: User }>("POST", "/api/login", { username, password });
  token = r.token;
  sessionStorage.setItem(TOKEN_KEY, r.token);
  return r.user;
}
export async function setup(username: string, password: string): Promise<User> {
  const r = await call<{ token: string; user: User }>("POST", "/api/setup", { username, password });
  token = r.token;
  sessionStorage.setItem(TOKEN_KEY, r.token);
  return r.user;
}
export const setupStatus = () => call<SetupStatus>("GET", "/api/setup");
export const settings = () => call<Settings>("GET", "/api/settings");
export const dittoConfig = () => call<unknown>("GET", "/api/settings/ditto-config");
export const users = () => call<User[]>("GET", "/api/users");
export const addUser = (username: string, role: string, password: string) =>
  call<User>("POST", "/api/users", { username, role, password });
export const facets = () => call<{ document_types: string[]; flag_codes: string[] }>("GET", "/api/facets");

export async function logout(): Promise<void> {
  try { await call("POST", "/api/logout"); } finally { token = null; sessionStorage.removeItem(TOKEN_KEY); }
}
export const me = () => call<User>("GET", "/api/me");
export function listCases(params: CaseFilters = {}): Promise<CasePage> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") qs.set(k, String(v));
  return call<CasePage>("GET", `/api/cases?${qs}`);
}
export const getCase = (id: number | string) => call<CaseDetail>("GET", `/api/cases/${encodeURIComponent(String(id))}`);
export const imageUrl = (id: number, name: string) => `/api/cases/${id}/images/${encodeURIComponent(name)}`;
export const decide = (id: number, decision: "approve" | "reject", reasons: string[], comment: string, userId?: string) =>
  call<CaseDetail>("POST", `/api/cases/${id}/decision`, { decision, reasons, comment, ...(userId ? { user_id: userId } : {}) });
export interface Delivery {
  id: number; case_id: number; event: string; status: "pending" | "delivered" | "failed"; attempts: number; next_at: string;
  last_status: number | null; last_error: string | null; created_at: string; delivered_at: string | null;
}
export const deliveries = (caseId: number) => call<{ deliveries: Delivery[] }>("GET", `/api/deliveries?case=${caseId}`);
export const resendDelivery = (id: number) => call<void>("POST", `/api/deliveries/${id}/resend`);

/** Live events; the session cookie authenticates the stream. Returns a function that closes it. */
export function subscribe(onEvent: (e: DeskEvent) => void, onState: (live: boolean) => void): () => void {
  const es = new EventSource("/api/events", { withCredentials: true });
  const handler = (m: MessageEvent) => { try { onEvent(JSON.parse(m.data)); } catch { /* ignore */ } };
  for (const t of ["case.created", "case.decided", "case.answered", "case.assigned", "case.erased"]) es.addEventListener(t, handler as EventListener);
  es.onopen = () => onState(true);
  es.onerror = () => onState(false);
  return () => es.close();
}

export const assign = (id: number, to: string | null) => call<CaseSummary>("POST", `/api/cases/${id}/assign`, { to });
export const erase = (id: number, reason: string) => call<{ erased: string }>("POST", `/api/cases/${id}/erase`, { reason });
export function stats(from?: string, to?: string): Promise<Stats> {
  const qs = new URLSearchParams();
  if (from) qs.set("from", from);
  if (to) qs.set("to", to);
  return call<Stats>("GET", `/api/stats?${qs}`);
}
export function auditTrail(p: { before?: number; actor?: string; action?: string; limit?: number } = {}): Promise<AuditPage> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined && v !== "") qs.set(k, String(v));
  return call<AuditPage>("GET", `/api/audit?${qs}`);
}
export const verifyAudit = () => call<AuditVerdict>("GET", "/api/audit/verify");
export const reportPath = (id: number) => `/api/cases/${id}/report.pdf`;
export function decisionsCsvPath(from?: string, to?: string): string {
  const qs = new URLSearchParams();
  if (from) qs.set("from", from);
  if (to) qs.set("to", to);
  return `/api/exports/decisions.csv?${qs}`;
}

/** Progress of a download: bytes and, for the CSV export, rows (of `total` announced by the server). */
export interface Progress { bytes: number; rows?: number; total?: number }

/** What `download` did: saved (desktop: where), handed to the browser, or cancelled in the dialog. */
export type Saved = { kind: "saved"; path: string } | { kind: "downloaded"; name: string } | { kind: "cancelled" };

interface TauriInternals { invoke: (cmd: string, args?: unknown, options?: { headers?: Record<string, string> }) => Promise<unknown> }
function tauri(): TauriInternals | null {
  return (window as unknown as { __TAURI_INTERNALS__?: TauriInternals }).__TAURI_INTERNALS__ ?? null;
}

/**
 * Fetches a file from the review API with progress, then saves it: in the desktop app through the
 * native save dialog (the `save_file` command), in a browser as a download.
 */
export async function download(path: string, onProgress?: (p: Progress) => void): Promise<Saved> {
  const headers: Record<string, string> = {};
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const resp = await fetch(path, { headers, credentials: "same-origin" });
  if (!resp.ok) {
    let code = "http_" + resp.status, message = resp.statusText;
    try { const j = await resp.json(); code = j.error ?? code; message = j.message ?? message; } catch { /* not JSON */ }
    throw new ApiError(resp.status, code, message);
  }
  const name = /filename="([^"]+)"/.exec(resp.headers.get("content-disposition") ?? "")?.[1] ?? "download";
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
    onProgress?.({ bytes, ...(total !== undefined ? { rows: Math.max(0, newlines - 1), total } : {}) });
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  const t = tauri();
  if (t) {
    const path = await t.invoke("save_file", all, { headers: { "x-file-name": encodeURIComponent(name) } });
    return path ? { kind: "saved", path: String(path) } : { kind: "cancelled" };
  }
  const url = URL.createObjectURL(new Blob([all], { type: mime }));
  const a = document.createElement("a");
  a.href = url; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return { kind: "downloaded", name };
}
