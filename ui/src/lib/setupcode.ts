// The first-run setup code handed over in the URL fragment.
//
// The desktop window opens the desk at `…/#setup=XXXX-XXXX-…` while no account exists, so its
// owner does not have to type the code. The fragment never reaches the server; it is read once and
// removed from the address (and from the history entry) at once.

let taken: string | null = null;

/**
 * The code from `#setup=…` (empty when there is none). The first call reads it and removes the
 * fragment with `history.replaceState`; later calls give the same value.
 */
export function takeSetupCode(): string {
  if (taken !== null) return taken;
  taken = "";
  const hash = location.hash.replace(/^#/, "");
  if (!hash) return taken;
  const params = new URLSearchParams(hash);
  const code = params.get("setup");
  if (code === null) return taken;
  taken = code.trim();
  params.delete("setup");
  const rest = params.toString();
  history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  return taken;
}
