//! The decision loop: store a submission durably, hold Ditto ID's request until a reviewer decides
//! (or policy decides, or the window closes), and publish what happens as events.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::config::DecisionConfig;
use crate::error::CoreError;
use crate::ingest::{self, OpenedBody};
use crate::view::CaseDetail;
use kyc_domain::case::{Answer, CasePage, CaseQuery, CaseSummary, Inserted, NewDecision};
use kyc_domain::checks;
use kyc_domain::flag::Flag;
use kyc_domain::roles::Permission;
use kyc_store::{OnArrival, Store};

mod accounts;
mod decide;
mod detail;
mod erase;
mod hold;
mod queue;
mod records;
mod trail;

pub use accounts::SignIn;
pub use decide::{DecisionRequest, MAX_COMMENT};
pub use records::{CsvExport, CsvWriter};
pub use trail::{CHECKPOINT_EVERY_ENTRIES, CHECKPOINT_EVERY_MS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    #[serde(rename = "case.created")]
    Created,
    #[serde(rename = "case.decided")]
    Decided,
    #[serde(rename = "case.answered")]
    Answered,
    #[serde(rename = "case.assigned")]
    Assigned,
    /// Carries only the case's id and reference.
    #[serde(rename = "case.erased")]
    Erased,
}

impl EventKind {
    const ALL: [EventKind; 5] = [
        EventKind::Created,
        EventKind::Decided,
        EventKind::Answered,
        EventKind::Assigned,
        EventKind::Erased,
    ];

    /// The kind named `name` (`case.decided`, …), as another instance announced it.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "case.created",
            EventKind::Decided => "case.decided",
            EventKind::Answered => "case.answered",
            EventKind::Assigned => "case.assigned",
            EventKind::Erased => "case.erased",
        }
    }
}

/// Presence notices between instances (a heartbeat, a closed case, a sign-out).
const PRESENT: &str = "presence.beat";
const ABSENT: &str = "presence.left";
const SIGNED_OUT: &str = "presence.signed_out";

/// An audit check: the chain's verdict, how many checkpoints agree, the newest checkpoint.
pub type AuditCheck = (
    kyc_domain::audit::Verdict,
    usize,
    Option<kyc_store::checkpoint::Checkpoint>,
);

/// Something that happened to a case (sent to the review UI as server-sent events).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub case: CaseSummary,
    /// For a held case: when the hold window closes (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<String>,
}

pub struct Desk {
    store: Arc<Store>,
    policy: DecisionConfig,
    /// How custom request bodies are read (`[receiver] mapping`, `default_user_id`, `correlation`).
    custom: Arc<ingest::CustomRules>,
    /// Whether final decisions queue a webhook delivery (`[notify]`).
    notify: bool,
    /// Wakes the webhook worker when a delivery is queued.
    deliveries: Arc<tokio::sync::Notify>,
    events: broadcast::Sender<Event>,
    /// Counts the times events may have been missed (the listener to the other instances was
    /// cut): a live view reads its lists again at each change.
    resyncs: Arc<tokio::sync::watch::Sender<u64>>,
    /// Who looked at what lately: one audit entry per look, not per refresh.
    looks: Arc<crate::access::Looks>,
    /// A task is finishing pending erasures.
    finishing: Arc<AtomicBool>,
    /// Where the audit chain's signed checkpoints go (`[audit] checkpoint_dir`); none in tests
    /// that do not ask for them.
    checkpoints: Option<std::path::PathBuf>,
    /// The newest checkpoint there, once read or written.
    last_checkpoint: Mutex<Option<kyc_store::checkpoint::Checkpoint>>,
    /// Who has which case open now.
    presence: Arc<crate::presence::Presence>,
    /// Permits to hash a password: memory-hard work bounded to `HASHES_AT_ONCE` at a time.
    hashing: Arc<tokio::sync::Semaphore>,
    /// The time the desk's rules read: the store's clock (`Store::with_clock` sets both).
    clock: Arc<dyn Clock>,
    /// The latest end of a window a request held here waited in ([`Desk::last_window_end`]).
    last_window_end: std::sync::atomic::AtomicI64,
}

/// Runs blocking store work whose result nobody waits for: on a blocking thread of the runtime
/// when there is one, else here.
fn in_background(f: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(f)),
        Err(_) => f(),
    }
}

/// Runs blocking store work off the async threads (the edges use it too).
pub async fn blocking<T: Send + 'static, E: Into<CoreError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Internal(format!("worker: {e}")))?
        .map_err(Into::into)
}

impl Desk {
    pub fn new(store: Arc<Store>, policy: DecisionConfig, custom: ingest::CustomRules) -> Desk {
        let (events, _) = broadcast::channel(1024);
        let store_clock = store.clock();
        Desk {
            store,
            policy,
            custom: Arc::new(custom),
            notify: false,
            deliveries: Arc::default(),
            events,
            resyncs: Arc::new(tokio::sync::watch::Sender::new(0)),
            looks: Arc::default(),
            finishing: Arc::default(),
            checkpoints: None,
            hashing: Arc::new(tokio::sync::Semaphore::new(crate::users::HASHES_AT_ONCE)),
            last_checkpoint: Mutex::new(None),
            presence: Arc::default(),
            clock: store_clock,
            last_window_end: Default::default(),
        }
    }

    /// The desk a configuration describes (its decision policy, how custom bodies are read,
    /// webhooks, checkpoints), on an opened store.
    pub fn for_config(store: Store, loaded: &crate::config::Loaded) -> Desk {
        let cfg = &loaded.config;
        Desk::new(
            Arc::new(store),
            cfg.decision.clone(),
            ingest::CustomRules::of(&cfg.receiver),
        )
        .with_notify(cfg.notify.enabled())
        .with_checkpoints(loaded.checkpoint_dir())
    }

    /// Opens the configured store (the master key from its file, or a passphrase from
    /// `KYC_DESK_PASSPHRASE` or else `prompt`) and the desk on it.
    pub fn open(
        loaded: &crate::config::Loaded,
        prompt: impl FnOnce() -> Option<String>,
    ) -> Result<Desk, CoreError> {
        let store = crate::bootstrap::open_store(loaded, prompt)?;
        Ok(Desk::for_config(store, loaded))
    }

    /// [`Desk::open`] from async code (the store's driver blocks), with the passphrase from
    /// `KYC_DESK_PASSPHRASE` only.
    pub async fn open_async(loaded: &crate::config::Loaded) -> Result<Desk, CoreError> {
        let loaded = loaded.clone();
        blocking(move || Desk::open(&loaded, || None)).await
    }

    /// Whether this desk can serve: its database answers (a load balancer's health check).
    pub async fn healthy(&self) -> Result<(), CoreError> {
        let store = self.store.clone();
        blocking(move || store.ping()).await
    }

    /// Now, by the desk's clock (unix ms).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Now, by the desk's clock, in seconds since the Unix epoch (token times).
    pub fn now_secs(&self) -> u64 {
        u64::try_from(self.now_ms() / 1000).unwrap_or(0)
    }

    /// Keep signed audit checkpoints in `dir`.
    pub fn with_checkpoints(mut self, dir: std::path::PathBuf) -> Desk {
        self.checkpoints = Some(dir);
        self
    }

    /// Queue a webhook delivery with every final decision.
    pub fn with_notify(mut self, enabled: bool) -> Desk {
        self.notify = enabled;
        self
    }

    /// Signalled whenever a delivery is queued (the webhook worker waits on it).
    pub fn deliveries_changed(&self) -> Arc<tokio::sync::Notify> {
        self.deliveries.clone()
    }

    /// The store itself, for the command line's offline commands, tests and benchmarks; the HTTP
    /// edge never reaches it (kyc-tidy checks).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn policy(&self) -> &DecisionConfig {
        &self.policy
    }

    /// Who has which case open (reviewers' heartbeats), published to the live events.
    pub fn presence(&self) -> &Arc<crate::presence::Presence> {
        &self.presence
    }

    /// `name` has case `case` open (a heartbeat); the other instances' reviewers see it too.
    pub fn present(&self, case: i64, name: &str) {
        self.presence.touch(case, name, self.now_ms());
        self.tell_others(vec![PRESENT], case, name.to_string());
    }

    /// `name` closed case `case`.
    pub fn absent(&self, case: i64, name: &str) {
        self.presence.leave(case, name);
        self.tell_others(vec![ABSENT], case, name.to_string());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Changes each time events may have been missed ([`Desk::hear_other_instances`]'s listener
    /// was cut and is back): what a live view reloads on.
    pub fn resyncs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.resyncs.subscribe()
    }

    /// Tells the other instances on a shared database (after the commit, when it follows one):
    /// `kind`, a case id, and its reference (for presence, the reviewer's account name).
    /// Several `kinds` at once are one announcement, in their order.
    fn tell_others(&self, kinds: Vec<&'static str>, id: i64, text: String) {
        if !self.store.is_shared() {
            return;
        }
        let store = self.store.clone();
        in_background(move || {
            if let Err(e) = store.announce(&kinds, id, &text) {
                tracing::warn!(case = id, ?kinds, error = %e, "could not tell the other instances");
            }
        });
    }

    /// Publishes what happened to `case` (its live hold window, if shown, goes with it).
    fn emit(&self, kind: EventKind, case: CaseSummary) {
        self.emit_all(&[kind], &case);
    }

    /// Publishes several things that happened to `case` together, in their order (to the other
    /// instances as one announcement).
    fn emit_all(&self, kinds: &[EventKind], case: &CaseSummary) {
        let told = kinds.iter().map(|k| k.as_str()).collect();
        self.tell_others(told, case.id, case.reference.clone());
        for &kind in kinds {
            // No subscriber is fine: nobody is watching.
            let _ = self.events.send(Event {
                kind,
                hold_until: case.hold_until.clone(),
                case: case.clone(),
            });
        }
    }

    /// Passes on what the other instances on a shared database announce, as this desk's own
    /// events (so a request held here is answered by a decision made there, and a reviewer here
    /// sees cases received there). Nothing to hear on an embedded SQLite store. Returns once
    /// the listener listens (waited for off the async threads).
    pub async fn hear_other_instances(&self) -> Result<(), CoreError> {
        if !self.store.is_shared() {
            return Ok(());
        }
        let (store, events) = (self.store.clone(), self.events.clone());
        let presence = self.presence.clone();
        let resyncs = self.resyncs.clone();
        let listening = self.store.clone();
        blocking(move || {
            listening.listen(move |heard| {
                let (kind, id, reference) = match heard {
                    kyc_store::Heard::Announced {
                        kind,
                        case,
                        reference,
                    } => (kind, case, reference),
                    // Announcements were missed meanwhile: live views read their lists again.
                    kyc_store::Heard::Resumed => {
                        resyncs.send_modify(|n| *n += 1);
                        return;
                    }
                };
                // Reviewers on other instances: shown here too (their beats keep them fresh).
                match kind {
                    PRESENT => return presence.touch(id, reference, store.now_ms()),
                    ABSENT => return presence.leave(id, reference),
                    SIGNED_OUT => return presence.leave_all(reference),
                    _ => {}
                }
                let Some(kind) = EventKind::parse(kind) else {
                    return;
                };
                let case = match kind {
                    EventKind::Erased => CaseSummary::erased(id, reference.to_string()),
                    _ => match store.summary(id) {
                        Ok(mut case) => {
                            case.show_hold(store.now_ms());
                            case
                        }
                        // Erased meanwhile: its own event follows.
                        Err(_) => return,
                    },
                };
                let _ = events.send(Event {
                    kind,
                    hold_until: case.hold_until.clone(),
                    case,
                });
            })
        })
        .await
    }

    /// Receives one submission: validates, stores (durably) and returns Ditto ID's answer once the
    /// case is decided or the hold window ends. The same body again gets the same answer.
    pub async fn submit(&self, body: OpenedBody) -> Result<Answer, CoreError> {
        let case = self.accept(body).await?;
        self.answer(case).await
    }

    /// The first half of `submit`: validates and stores the case durably (and applies the policy's
    /// automatic decision). The heavy, memory-hungry part; `answer` then only waits.
    pub async fn accept(&self, body: OpenedBody) -> Result<CaseSummary, CoreError> {
        let store = self.store.clone();
        let policy = self.policy.clone();
        let custom = self.custom.clone();
        let received = self.now_ms();
        let until = received.saturating_add(self.hold_ms());
        let notify = self.notify;
        let inserted = blocking(move || {
            let sub = ingest::open_with(&body, &custom)?;
            let mut flags =
                checks::evaluate(&sub.payload, &policy, kyc_domain::time::date_of(received));
            if let Some(custom) = &sub.custom {
                flags.push(checks::custom_body_flag(custom));
            }
            flags.extend(checks::user_id_missing_flag(&sub));
            if !sub.coerced.is_empty() {
                flags.push(checks::coerced_flag(&sub.coerced));
            }
            flags.extend(checks::unreadable_images_flag(&sub.images));
            // The history flags are added by the store, inside the insert's transaction, and the
            // policy's decision on the final flags is recorded (and answered) in it too.
            // Stored held: every instance sees that Ditto ID waits on it.
            // Whether the store recorded a decision (what it asked the policy, and was told).
            let decided = std::cell::Cell::new(false);
            let decide = |flags: &[Flag]| {
                let d = checks::automatic_decision(flags, &policy)
                    .map(|d| (d, checks::needs_second_approval(flags, &policy)));
                decided.set(d.is_some());
                d
            };
            let arrival = OnArrival {
                decide: &decide,
                notify,
            };
            let inserted = store.receive(&sub, &flags, received, Some(until), Some(&arrival))?;
            Ok::<_, CoreError>((inserted, decided.get()))
        })
        .await?;
        let (inserted, decided) = inserted;
        let case = match inserted {
            Inserted::Existing(mut case) => {
                tracing::info!(case = case.id, reference = %case.reference, "repeated submission");
                if case.answer.is_none() {
                    // This request waits a whole window of its own.
                    let until = self.now_ms().saturating_add(self.hold_ms());
                    let store = self.store.clone();
                    blocking(move || store.hold(case.id, until)).await?;
                    case.hold_until_ms = Some(until);
                }
                case
            }
            Inserted::New(mut case) => {
                tracing::info!(case = case.id, reference = %case.reference, flags = case.flags.len(), "case stored");
                case.show_hold(self.now_ms());
                // Decided (and answered) on arrival, in the insert's transaction: heard together.
                let mut happened = vec![EventKind::Created];
                if decided {
                    self.decided(&case);
                    happened.push(EventKind::Decided);
                }
                if let Some(answer) = &case.answer {
                    tracing::info!(case = case.id, result = answer.result, by = %answer.by, "answered");
                    happened.push(EventKind::Answered);
                }
                self.emit_all(&happened, &case);
                case
            }
        };
        Ok(case)
    }

    async fn decide_id(&self, id: i64, d: NewDecision) -> Result<CaseSummary, CoreError> {
        let store = self.store.clone();
        let notify = self.notify;
        let policy = self.policy.clone();
        let by = d.by_user.clone();
        let result = blocking(move || {
            let flags = store.summary(id)?.flags;
            if d.by_user.is_some() {
                checks::justification(d.approve, &d.reasons, &d.comment, &flags)?;
            }
            let four_eyes = checks::needs_second_approval(&flags, &policy);
            Ok::<_, CoreError>(store.decide(id, &d, notify, four_eyes)?)
        })
        .await;
        if let (Err(CoreError::FourEyes), Some(user)) = (&result, by) {
            // A refused second approval by the same person is on the record too.
            let store = self.store.clone();
            let detail = json!({"refused": "four_eyes"});
            blocking(move || store.audit(&user, "decision.refused", Some(id), detail)).await?;
        }
        let case = result?;
        self.decided(&case);
        self.emit(EventKind::Decided, case.clone());
        Ok(case)
    }

    /// A decision was recorded on `case`: its webhook delivery is due (the event is the
    /// caller's to publish).
    fn decided(&self, case: &CaseSummary) {
        if self.notify {
            self.deliveries.notify_one();
        }
        tracing::info!(case = case.id, status = %case.status, "decided");
    }

    /// A reviewer's (or an automatic) decision on a case given by id or reference.
    pub async fn decide(&self, key: &str, d: NewDecision) -> Result<CaseDetail, CoreError> {
        let store = self.store.clone();
        let k = key.to_string();
        let id = blocking(move || store.resolve(&k)).await?;
        self.decide_id(id, d).await?;
        self.detail(&id.to_string()).await
    }

    /// The whole case for the review UI.
    pub async fn detail(&self, key: &str) -> Result<CaseDetail, CoreError> {
        let store = self.store.clone();
        let policy = self.policy.clone();
        let k = key.to_string();
        let mut detail = blocking(move || detail::detail(&store, &k, &policy)).await?;
        detail.summary.show_hold(self.now_ms());
        Ok(detail)
    }

    /// A case as `user` sees it; the opening is audited (`case.viewed`), its refreshes are not.
    pub async fn detail_seen_by(&self, key: &str, user: &str) -> Result<CaseDetail, CoreError> {
        let detail = self.detail(key).await?;
        let id = detail.summary.id;
        if self
            .looks
            .starts_opening(user, crate::access::Look::Case(id), self.now_ms())
        {
            let (store, user) = (self.store.clone(), user.to_string());
            blocking(move || store.audit(&user, "case.viewed", Some(id), json!({}))).await?;
        }
        Ok(detail)
    }

    /// An image as `user` sees it ([`Desk::image_for_display`]): part of the case's opening when
    /// the case is open, else audited on its own (`case.image_viewed`).
    pub async fn image_seen_by(
        &self,
        key: &str,
        name: &str,
        original: bool,
        user: &str,
    ) -> Result<(String, Vec<u8>, Option<String>), CoreError> {
        let (id, shown) = self.image_shown(key, name, original).await?;
        let now = self.now_ms();
        let alone = !self.looks.has_open(user, id, now)
            && self.looks.starts_opening(
                user,
                crate::access::Look::Image(id, name.to_string()),
                now,
            );
        if alone {
            let (store, user) = (self.store.clone(), user.to_string());
            let detail = json!({"image": name, "original": original});
            blocking(move || store.audit(&user, "case.image_viewed", Some(id), detail)).await?;
        }
        Ok(shown)
    }

    /// A list or search as `user` sees it: one `cases.listed` entry per distinct query while it
    /// is looked at (its filter; search words and user ids only as keyed tags).
    pub async fn list_seen_by(&self, q: CaseQuery, user: &str) -> Result<CasePage, CoreError> {
        let detail = crate::access::query_detail(&q, |v| hex::encode(self.store.search_tag(v)));
        let page = self.list(q).await?;
        let look = crate::access::Look::Query(detail.to_string());
        if self.looks.starts_opening(user, look, self.now_ms()) {
            let (store, user) = (self.store.clone(), user.to_string());
            blocking(move || store.audit(&user, "cases.listed", None, detail)).await?;
        }
        Ok(page)
    }

    /// The PDF case report: file name, bytes and their SHA-256 (hex), with times in the reader's
    /// `offset`. The export is audited with the file's SHA-256, so a copy can be checked later.
    /// The report carries the audit chain's head and a signed checkpoint of it, taken as it is made.
    pub async fn report(
        &self,
        key: &str,
        by: &str,
        offset: time::UtcOffset,
    ) -> Result<(String, Vec<u8>, String), CoreError> {
        let detail = self.detail(key).await?;
        let checkpoint = self.current_checkpoint().await?.map(|c| c.line());
        let store = self.store.clone();
        let by = by.to_string();
        let now = self.now_ms();
        blocking(move || {
            let id = detail.summary.id;
            let mut images = Vec::with_capacity(detail.images.len());
            for info in &detail.images {
                images.push((info.clone(), store.image(id, &info.name)?.1));
            }
            let head = store.audit_head()?.map(|(n, link)| (n, hex::encode(link)));
            let generated_at = kyc_domain::time::rfc3339(now);
            let meta = crate::report::ReportMeta {
                generated_by: &by,
                generated_at: &generated_at,
                offset,
                audit_head: head,
                checkpoint: checkpoint.as_deref(),
            };
            let pdf = crate::report::case_pdf(&detail, &images, &meta)?;
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf));
            store.audit(
                &by,
                "case.report_exported",
                Some(id),
                serde_json::json!({"format": "pdf", "sha256": sha256, "generated_at": generated_at}),
            )?;
            Ok::<_, CoreError>((format!("{}.pdf", detail.summary.reference), pdf, sha256))
        })
        .await
    }

    /// Assigns a case: supervisors and admins to anyone (or nobody); others may only take an
    /// unassigned case for themselves or give back their own.
    pub async fn assign(
        &self,
        key: &str,
        to: Option<&str>,
        by: &crate::users::User,
    ) -> Result<CaseSummary, CoreError> {
        accounts::allowed(by, Permission::Decide)?;
        let store = self.store.clone();
        let k = key.to_string();
        let case = blocking(move || {
            let id = store.resolve(&k)?;
            store.summary(id)
        })
        .await?;
        if !by.role.may(Permission::Reassign) {
            let own = case.assignee.as_deref() == Some(by.name.as_str());
            let allowed = match to {
                Some(t) => t == by.name && (case.assignee.is_none() || own),
                None => own,
            };
            if !allowed {
                return Err(CoreError::Forbidden(
                    "a reviewer may take an unassigned case or give back their own; ask a supervisor to reassign",
                ));
            }
        }
        let store = self.store.clone();
        let (to, name) = (to.map(str::to_string), by.name.clone());
        let mut case = blocking(move || store.assign(case.id, to.as_deref(), &name)).await?;
        case.show_hold(self.now_ms());
        tracing::info!(case = case.id, "assigned");
        self.emit(EventKind::Assigned, case.clone());
        Ok(case)
    }

    /// Adds an internal note to a case (anyone who may decide cases).
    pub async fn add_note(
        &self,
        key: &str,
        by: &crate::users::User,
        text: String,
    ) -> Result<CaseDetail, CoreError> {
        self.note(key, by, text, None).await
    }

    /// Escalates a pending case to a supervisor (or admin): assigns it to them and records why as
    /// a note, in one transaction; open desks hear of the assignment.
    pub async fn escalate(
        &self,
        key: &str,
        by: &crate::users::User,
        to: String,
        reason: String,
    ) -> Result<CaseDetail, CoreError> {
        self.note(key, by, reason, Some(to)).await
    }

    /// Whom a case can be escalated to: the active supervisors and admins.
    pub async fn supervisors(&self) -> Result<Vec<String>, CoreError> {
        let store = self.store.clone();
        blocking(move || store.supervisors()).await
    }

    async fn note(
        &self,
        key: &str,
        by: &crate::users::User,
        text: String,
        escalate_to: Option<String>,
    ) -> Result<CaseDetail, CoreError> {
        if !by.role.may(Permission::Decide) {
            return Err(CoreError::Forbidden(
                "notes and escalations are for the accounts that decide cases",
            ));
        }
        let store = self.store.clone();
        let (k, name) = (key.to_string(), by.name.clone());
        let escalated = escalate_to.is_some();
        let mut case = blocking(move || {
            let id = store.resolve(&k)?;
            store.add_note(id, &name, &text, escalate_to.as_deref())
        })
        .await?;
        if escalated {
            tracing::info!(case = case.id, "escalated");
            case.show_hold(self.now_ms());
            self.emit(EventKind::Assigned, case.clone());
        }
        self.detail(&case.id.to_string()).await
    }

    /// A page of the queue, plus every case Ditto ID is waiting on now (pinned on top by the UI).
    pub async fn list(&self, q: CaseQuery) -> Result<CasePage, CoreError> {
        let store = self.store.clone();
        let now = self.now_ms();
        // One snapshot: the waiting and pinned cases agree with the page.
        let (mut page, mut held) =
            blocking(move || store.snapshot(|s| queue::page(s, q, now))).await?;
        for c in page.cases.iter_mut().chain(held.iter_mut()) {
            c.show_hold(now);
        }
        page.held = held;
        Ok(page)
    }

    pub async fn image(&self, key: &str, name: &str) -> Result<(String, Vec<u8>), CoreError> {
        let store = self.store.clone();
        let (k, n) = (key.to_string(), name.to_string());
        let (_, mime, bytes) = blocking(move || Self::image_of(&store, &k, &n)).await?;
        Ok((mime, bytes))
    }

    /// Case `key`'s image `name`: the case's id, the MIME type and the bytes.
    fn image_of(store: &Store, key: &str, name: &str) -> Result<(i64, String, Vec<u8>), CoreError> {
        Ok(store.image_of(key, name)?)
    }

    /// An image as the desk shows it: (mime, bytes, download file name when it is not shown
    /// inline). JPEG 2000 becomes a PNG; a PDF or unknown format is a download of the bytes as
    /// sent. `original` asks for the bytes as sent, always as a download.
    pub async fn image_for_display(
        &self,
        key: &str,
        name: &str,
        original: bool,
    ) -> Result<(String, Vec<u8>, Option<String>), CoreError> {
        Ok(self.image_shown(key, name, original).await?.1)
    }

    /// [`Desk::image_for_display`] with the case's id.
    async fn image_shown(
        &self,
        key: &str,
        name: &str,
        original: bool,
    ) -> Result<(i64, (String, Vec<u8>, Option<String>)), CoreError> {
        let store = self.store.clone();
        let (k, n) = (key.to_string(), name.to_string());
        let (id, mime, bytes) = blocking(move || Self::image_of(&store, &k, &n)).await?;
        let download = |mime: String, bytes| {
            let ext = match mime.as_str() {
                "image/jpeg" => "jpg",
                "image/png" => "png",
                "image/webp" => "webp",
                "image/gif" => "gif",
                "image/jp2" => "jp2",
                "application/pdf" => "pdf",
                _ => "bin",
            };
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (mime, bytes, Some(format!("{safe}.{ext}")))
        };
        if original {
            return Ok((id, download(mime, bytes)));
        }
        let (shown, mime, bytes) = blocking(move || {
            Ok::<_, CoreError>((crate::picture::for_display(&mime, &bytes), mime, bytes))
        })
        .await?;
        let shown = match shown {
            crate::picture::Shown::AsSent => (mime, bytes, None),
            crate::picture::Shown::Converted(png) => ("image/png".into(), png, None),
            crate::picture::Shown::Download => download(mime, bytes),
        };
        Ok((id, shown))
    }
}
