// One open case, the single store its panels share: the case as the server last sent it, its
// webhook deliveries, the clock its countdowns read, and what the reviewer has under way (a
// decision being drafted or confirmed, an image zoomed, a dialog open). Panels render from it and
// call its methods; the keyboard goes through it, so every key acts on the same state the
// buttons do.
import * as api from "../lib/api";
import { errorText, humanize, secondsLeft } from "../lib/format";

/** What the desk around the case says about the reviewer (props of the case view). */
export interface CaseContext {
  user: api.User;
  /** The signed-in account's name. */
  me: string;
  /** `[decision] four_eyes`. */
  fourEyes: boolean;
  reasons: api.Reason[];
  /** A final decision was made here (the desk may open the next case). */
  onDecided?: (id: number) => void;
}

/** A zoom and pan of an image view. */
export interface View { scale: number; x: number; y: number }

/** The images shown first, in this order (the rest follow by name). */
export const ORDER = ["portrait_image", "selfie", "front_page", "back_page", "visualportrait_image", "ghostportrait_image", "signature_image"];
/** The four slots always shown (an absent one says so). */
export const MAIN = ["portrait_image", "selfie", "front_page", "back_page"];
export const LABELS: Record<string, string> = {
  portrait_image: "Document portrait", selfie: "Selfie (liveness)", front_page: "Document front", back_page: "Document back",
  signature_image: "Signature", ghostportrait_image: "Ghost portrait", visualportrait_image: "Visual portrait",
};
/** Which images a reuse finding is about. */
export const REUSED: Record<string, string[]> = { selfie_reused: ["selfie"], portrait_reused: ["portrait_image", "front_page"], document_reused: ["front_page", "portrait_image"] };

const rank = (n: string) => { const i = ORDER.indexOf(n); return i < 0 ? 99 : i; };

/** +, - and 0 on a view's zoom; false for any other key. */
export function zoomKey(v: View, key: string): boolean {
  if (key === "+" || key === "=") v.scale = Math.min(12, v.scale * 1.25);
  else if (key === "-") v.scale = Math.max(1, v.scale / 1.25);
  else if (key === "0") v.scale = 1;
  else return false;
  if (v.scale === 1) { v.x = 0; v.y = 0; }
  return true;
}

/** What a refused decision means for the reviewer (the case is reloaded after it). */
export function decisionError(e: unknown): string {
  if (!(e instanceof api.ApiError)) return `The decision was not saved: ${errorText(e)}`;
  switch (e.code) {
    case "already_decided": return "Someone else decided this case first; it has been reloaded.";
    case "assigned_elsewhere": return `The decision was not saved: ${e.message}. Only they can decide it, unless a supervisor reassigns it.`;
    case "four_eyes": return `The approval was not saved: ${e.message}.`;
    case "forbidden": return `The decision was not saved: ${e.message}.`;
    default: return `The decision was not saved: ${errorText(e)}`;
  }
}

export class OpenCase {
  readonly id: number;
  readonly #ctx: () => CaseContext;

  // ---- the case as the server sent it ----
  c = $state<api.CaseDetail | null>(null);
  error = $state("");
  /** The case no longer exists (erased). */
  gone = $state(false);
  log = $state<api.Delivery[]>([]);
  now = $state(Date.now());
  /** The assignment field: follows the case's assignee until the reviewer edits it. */
  assignTo = $state("");
  /** Loads of the case (reloads, a decision's answer), numbered as they start: a response is shown
   *  only if no later-started one is shown already. A live event's reload can overtake the
   *  decision's own answer, which would otherwise put back the case as it was before Ditto ID was
   *  answered. */
  #started = 0;
  #shown = 0;

  // ---- the decision being drafted ----
  mode = $state<"idle" | "reject">("idle");
  picked = $state<string[]>([]);
  comment = $state("");
  linking = $state(false);
  linkUser = $state("");
  confirming = $state<"approve" | "reject" | null>(null);
  sending = $state(false);
  sendError = $state("");

  // ---- views and dialogs ----
  zoomed = $state<string | null>(null);
  /** The full-screen view's zoom and pan. */
  zoom = $state<View>({ scale: 1, x: 0, y: 0 });
  comparing = $state(false);
  /** The compare view's shared zoom and pan (both faces move together). */
  cmp = $state<View>({ scale: 1, x: 0, y: 0 });
  /** A reuse finding opened side by side: this case's image beside the other case's. */
  beside = $state<{ code: string; other: string } | null>(null);
  erasing = $state(false);
  /** The decision panel (reject mode scrolls it into view). */
  panel = $state<HTMLElement | null>(null);

  constructor(id: number, ctx: () => CaseContext) {
    this.id = id;
    this.#ctx = ctx;
  }

  get ctx(): CaseContext { return this.#ctx(); }
  readonly mayDecide = $derived(api.may(this.ctx.user, "decide"));
  readonly mayReassign = $derived(api.may(this.ctx.user, "reassign"));

  /** The case's images, the main ones first (hologram check crops are shown with their check). */
  readonly images = $derived(
    this.c ? [...this.c.images].filter((i) => !i.name.startsWith("check-")).sort((a, b) => rank(a.name) - rank(b.name)) : [],
  );
  has(name: string): boolean { return this.images.some((i) => i.name === name); }
  /** Seconds Ditto ID still waits, or null when it does not. */
  readonly left = $derived(this.c ? secondsLeft(this.c.hold_until, this.now) : null);
  /** The findings an approval overrides (errors): the server wants a comment saying why. */
  readonly overridden = $derived((this.c?.flags ?? []).filter((f) => f.severity === "error"));
  /** What the decision being confirmed must say for itself, if anything. */
  readonly needsComment = $derived(
    this.confirming === "approve" ? this.overridden.length > 0 : this.confirming === "reject" ? this.picked.includes("other") : false,
  );
  readonly mayConfirm = $derived(!this.needsComment || this.comment.trim() !== "");
  /** Four-eyes: the first approval this case waits to have confirmed. */
  readonly firstApproval = $derived(
    this.c?.status === "pending" && this.c.first_approval_by
      ? (this.c.decisions ?? []).filter((d) => !d.final && d.decision === "approve").slice(-1)[0] ?? null
      : null,
  );
  readonly myFirstApproval = $derived(this.c?.first_approval_by === this.ctx.me && this.c?.status === "pending");
  /** This approval would be the first of two (Ditto ID keeps waiting). */
  readonly firstOfTwo = $derived(this.ctx.fourEyes && !this.c?.first_approval_by && (this.c?.flags ?? []).some((f) => f.severity !== "info"));

  /** A reason's label. */
  label(code: string): string {
    return this.ctx.reasons.find((r) => r.code === code)?.label ?? humanize(code);
  }

  /** Shows `fresh`, the answer of load number `load`, unless a later-started load is shown. */
  #show(load: number, fresh: api.CaseDetail) {
    if (load < this.#shown) return;
    this.#shown = load;
    if (!this.c || this.c.assignee !== fresh.assignee) this.assignTo = fresh.assignee ?? "";
    this.c = fresh; this.error = ""; this.gone = false;
  }

  async fetch() {
    this.refreshDeliveries();
    const load = ++this.#started;
    try {
      this.#show(load, await api.getCase(this.id));
    } catch (e) {
      this.gone = e instanceof api.ApiError && e.status === 404;
      this.error = errorText(e);
    }
  }

  refreshDeliveries() {
    api.deliveries(this.id).then((d) => (this.log = d.deliveries)).catch(() => {});
  }

  /** A live event about this case: an assignment is applied as it is, anything else refetches. */
  applyEvent(e: api.DeskEvent) {
    if (e.case.id !== this.id || e.type === "case.created") return;
    const c = this.c;
    if (e.type === "case.assigned" && c && c.status === e.case.status) {
      if (c.assignee !== e.case.assignee) { c.assignee = e.case.assignee; this.assignTo = e.case.assignee ?? ""; }
    } else this.fetch();
  }

  /** Reject mode, starting with the reasons the findings suggest ticked. */
  startReject() {
    if (this.mode !== "reject" && this.picked.length === 0) this.picked = [...(this.c?.suggested_reasons ?? [])];
    this.mode = "reject";
    this.panel?.scrollIntoView({ block: "nearest" });
  }

  toggle(code: string | undefined) {
    if (!code) return;
    this.picked = this.picked.includes(code) ? this.picked.filter((p) => p !== code) : [...this.picked, code];
    this.sendError = "";
  }

  /** Opens the confirm dialog for `d`, or says what is missing first. */
  ask(d: "approve" | "reject") {
    this.sendError = "";
    if (d === "approve" && this.myFirstApproval) { this.sendError = "You gave the first approval: four-eyes needs a different reviewer to approve."; return; }
    if (d === "reject" && this.picked.length === 0) { this.mode = "reject"; this.sendError = "Pick at least one reason to reject (keys 1–9)."; return; }
    // The dialog takes the keyboard (Enter confirms), also when asked from the comment field.
    (document.activeElement as HTMLElement | null)?.blur?.();
    this.confirming = d;
  }

  /** Sends the confirmed decision. */
  async send() {
    const c = this.c;
    const d = this.confirming;
    if (!c || !d || this.sending || !this.mayConfirm) return;
    this.sending = true;
    try {
      const link = d === "approve" && this.linking ? this.linkUser.trim() : "";
      const load = ++this.#started;
      const decided = await api.decide(c.id, d, d === "reject" ? this.picked : [], this.comment, link || undefined);
      this.#show(load, decided);
      this.confirming = null; this.mode = "idle"; this.picked = []; this.comment = ""; this.linking = false; this.linkUser = "";
      this.refreshDeliveries();
      if (decided.status !== "pending") this.ctx.onDecided?.(decided.id);
    } catch (e) {
      this.sendError = decisionError(e);
      this.confirming = null;
      this.fetch();
    } finally { this.sending = false; }
  }

  // ---- the keyboard ----
  /** Something open takes the keys the queue would otherwise take. */
  keyboardBusy(): boolean {
    return this.confirming !== null || this.mode === "reject" || this.zoomed !== null || this.comparing || this.beside !== null || this.erasing;
  }
  /** A dialog of its own (the erase form) has the keyboard: the queue's keys must not act. */
  modal(): boolean { return this.erasing; }
  /** Closes what is open, innermost first. */
  escape() {
    if (this.erasing) this.erasing = false;
    else if (this.confirming) this.confirming = null;
    else if (this.zoomed) this.zoomed = null;
    else if (this.comparing) this.comparing = false;
    else if (this.beside) this.beside = null;
    else if (this.mode === "reject") { this.mode = "idle"; this.picked = []; }
  }
  openZoom(name: string | null) {
    this.zoomed = name;
    this.zoom = { scale: 1, x: 0, y: 0 };
  }
  openCompare() {
    this.comparing = true;
    this.cmp = { scale: 1, x: 0, y: 0 };
  }
  /** Acts on a key; true when it did. */
  handleKey(e: KeyboardEvent): boolean {
    const c = this.c;
    if (!c || this.erasing) return false;
    if (this.confirming) {
      if (e.key === "Enter" || e.key === "y") { this.send(); return true; }
      if (e.key === "n") { this.confirming = null; return true; }
      return false;
    }
    if (this.zoomed) {
      // Arrows cycle the case's images; +, - and 0 zoom.
      if (["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"].includes(e.key)) {
        const names = this.images.map((i) => i.name);
        const i = names.indexOf(this.zoomed);
        const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : -1;
        this.openZoom(names[(i + step + names.length) % names.length] ?? this.zoomed);
        return true;
      }
      return zoomKey(this.zoom, e.key);
    }
    if (this.comparing) {
      if (zoomKey(this.cmp, e.key)) return true;
      // a and r decide from the compare view (it closes first).
      if ((e.key === "a" || e.key === "r") && c.status === "pending" && this.mayDecide) this.comparing = false;
      else return ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(e.key);
    }
    if (this.beside) return false;
    if (e.key === "z") { this.openZoom(this.has("front_page") ? "front_page" : this.images[0]?.name ?? null); return true; }
    if (e.key === "c") { this.openCompare(); return true; }
    if (c.status !== "pending" || !this.mayDecide) return false;
    if (this.mode === "reject") {
      if (/^[1-9]$/.test(e.key)) { this.toggle(this.ctx.reasons[Number(e.key) - 1]?.code); return true; }
      if (e.key === "Enter") { this.ask("reject"); return true; }
      if (e.key === "a") { this.mode = "idle"; this.ask("approve"); return true; }
      return false;
    }
    if (e.key === "a") { this.ask("approve"); return true; }
    if (e.key === "r") { this.startReject(); return true; }
    return false;
  }
}
