// Small display helpers shared by the desk's views.
import { dateFormat } from "./prefs";

const pad = (n: number) => String(n).padStart(2, "0");

/** A calendar date in the one format the desk uses (Settings → Appearance), local time. */
export function fmtDate(d: Date): string {
  if (dateFormat() === "iso") return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return d.toLocaleDateString(undefined, { year: "numeric", month: "2-digit", day: "2-digit" });
}

/** A moment as date and time (24 h, seconds), local time. */
export function fmtTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${fmtDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A UTC calendar day (YYYY-MM-DD, as the server counts days) in the desk's date format. */
export function fmtDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number);
  if (!y || !m || !d) return day;
  return fmtDate(new Date(y, m - 1, d));
}
export const fmtScore = (v: number | null | undefined) =>
  v === null || v === undefined ? "—" : String(Math.round(v * 1000) / 1000);
export const secondsLeft = (iso: string | null | undefined, now: number): number | null => {
  if (!iso) return null;
  const s = Math.floor((Date.parse(iso) - now) / 1000);
  return s >= 0 ? s : null;
};
export const humanize = (code: string) => code.replace(/_/g, " ");
/** A countdown as m:ss ("1:05", "0:09"). */
export const fmtCountdown = (secs: number) => `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
/** How long ago, short: "now", "12 min", "3 h", "2 d". */
export function fmtAge(iso: string, now: number): string {
  const m = Math.floor((now - Date.parse(iso)) / 60_000);
  if (!Number.isFinite(m) || m < 1) return "now";
  if (m < 60) return `${m} min`;
  if (m < 48 * 60) return `${Math.floor(m / 60)} h`;
  return `${Math.floor(m / 1440)} d`;
}
/** One root cause: KYC Desk's finding and Ditto ID's verdicts that restate it. */
export interface FindingGroup<T> { lead: T; restated: T[] }

/** Which of KYC Desk's findings a restatement of Ditto ID's is about, by the words it uses. */
const TOPICS: [RegExp, RegExp][] = [
  [/^mrz_/, /\bmrz\b|check digit|machine.readable/i],
  [/^document_expir/, /expir/i],
  [/^(date_|under_age)/, /\bdate\b|birth/i],
  [/^face_/, /\bface\b|portrait|similar/i],
  [/^liveness_/, /liveness|live\b/i],
  [/^nfc_/, /\bnfc\b|chip|rfid/i],
];

/**
 * The findings grouped by root cause: each of KYC Desk's own findings leads, and Ditto ID's
 * restatements (its overall status, its error, a failed check, a field it marked ERROR) fold under
 * the finding they are about, or else under the first error (warning) KYC Desk raised; a
 * restatement with nothing to fold under leads its own group. Most specific first.
 */
export function groupFindings<T extends { code: string; severity: string; message: string }>(flags: T[]): FindingGroup<T>[] {
  const ordered = specificFirst(flags);
  const groups: FindingGroup<T>[] = ordered.filter((f) => !RESTATEMENTS.includes(f.code)).map((lead) => ({ lead, restated: [] }));
  const fallback = groups.find((g) => g.lead.severity === "error") ?? groups.find((g) => g.lead.severity === "warning");
  for (const f of ordered.filter((f) => RESTATEMENTS.includes(f.code))) {
    const about = groups.find((g) => TOPICS.some(([code, words]) => code.test(g.lead.code) && words.test(f.message)));
    const home = about ?? fallback;
    if (home) home.restated.push(f);
    else groups.push({ lead: f, restated: [] });
  }
  return groups;
}

/** KYC Desk's own findings before Ditto ID's restatements of them, errors before warnings. */
const RESTATEMENTS = ["document_status", "ditto_error", "check_failed", "field_status"];
export function specificFirst<T extends { code: string; severity: string }>(flags: T[]): T[] {
  const rank = (f: T) => (f.severity === "error" ? 0 : f.severity === "warning" ? 2 : 4) + (RESTATEMENTS.includes(f.code) ? 1 : 0);
  return [...flags].sort((a, b) => rank(a) - rank(b));
}

/** Whether a key event should be left to a text field. */
export function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  return t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName);
}

/** A duration in seconds, short: "< 1 s", "42 s", "3 min 05 s", "2 h 10 min", "3 d 4 h"; "—" when unknown. */
export function fmtDuration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return "—";
  if (secs > 0 && secs < 0.5) return "< 1 s";
  const s = Math.round(secs);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A ratio 0..1 as a percentage with one decimal ("87.5 %"); "—" when unknown. */
export const fmtPercent = (r: number | null | undefined) =>
  r === null || r === undefined || !Number.isFinite(r) ? "—" : `${(Math.round(r * 1000) / 10).toFixed(1)} %`;

/** A UTC calendar day as YYYY-MM-DD, `daysAgo` days before today (the server counts days in UTC). */
export function utcDay(daysAgo = 0, now = Date.now()): string {
  return new Date(now - daysAgo * 86_400_000).toISOString().slice(0, 10);
}

/** The message of an error as the desk shows it (the API's own message for API errors). */
export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
