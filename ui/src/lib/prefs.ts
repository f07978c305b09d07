// This browser's own display choices (kept in localStorage, never sent): theme and date format.

export type Theme = "system" | "light" | "dark";
export type DateFormat = "locale" | "iso";

const THEME = "kyc-desk-theme";
const DATES = "kyc-desk-date-format";

export function theme(): Theme {
  const t = localStorage.getItem(THEME);
  return t === "light" || t === "dark" ? t : "system";
}

/** Applies `t` to the page (system: follows prefers-color-scheme) and keeps it. */
export function setTheme(t: Theme) {
  if (t === "system") localStorage.removeItem(THEME);
  else localStorage.setItem(THEME, t);
  applyTheme();
}

export function applyTheme() {
  const t = theme();
  if (t === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
}

/**
 * "locale": numeric dates as this browser's date fields show them (11/29/2026, 29.11.2026…);
 * "iso": 2026-11-29 everywhere.
 */
export function dateFormat(): DateFormat {
  return localStorage.getItem(DATES) === "iso" ? "iso" : "locale";
}

export function setDateFormat(f: DateFormat) {
  if (f === "locale") localStorage.removeItem(DATES);
  else localStorage.setItem(DATES, f);
}
