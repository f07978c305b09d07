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
export const humanize = (code: string) => code.replaceAll("_", " ");

/** Whether a key event should be left to a text field. */
export function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  if (!t) return false;
  return t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName);
}
