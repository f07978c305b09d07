// Small display helpers shared by the desk's views.

export const fmtTime = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium", hourCycle: "h23" });
export const fmtScore = (v: number | null | undefined) =>
  v === null || v === undefined ? "—" : String(Math.round(v * 1000) / 1000);
export const secondsLeft = (iso: string | undefined, now: number): number | null => {
  if (!iso) return null;
  const s = Math.floor((Date.parse(iso) - now) / 1000);
  return s >= 0 ? s : null;
};
export const humanize = (code: string) => code.replace(/_/g, " ");

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
