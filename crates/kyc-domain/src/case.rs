//! A case as the desk and its APIs see it: its summary and answer, its images and decisions, a
//! decision to record, a webhook delivery, the list's query and page, its notes and its entries
//! in the audit trail. Plain data: the store
//! fills and reads it, the edges serialise it.

use serde::Serialize;

use crate::flag::Flag;

/// What Ditto ID was (or will be) answered for a case.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Answer {
    /// The `result` Ditto ID got: true lets the onboarding go on.
    pub result: bool,
    /// When it was answered (RFC 3339).
    pub at: String,
    /// `reviewer`, `auto` or `timeout`.
    pub by: String,
    /// The user id in the answer (the linked customer id when a reviewer linked one).
    pub user_id: String,
    /// The case's reference, as in the answer's `reference_number`.
    pub reference: String,
    /// The user id Ditto ID sent (`user_id` differs when a reviewer linked a customer id).
    #[serde(skip)]
    pub sent_user_id: String,
}

impl Answer {
    /// The customer id a reviewer linked the case to, if any.
    pub fn linked_user_id(&self) -> Option<&str> {
        (self.user_id != self.sent_user_id && !self.user_id.is_empty())
            .then_some(self.user_id.as_str())
    }
}

/// One case in the queue: what a reviewer needs to pick it, without opening it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    /// The case id (a number never given to another case).
    pub id: i64,
    /// `KYC-<year>-<number>`: what Ditto ID and the reviewers call the case.
    pub reference: String,
    /// Ditto ID's `requester_id` (one case per requester id).
    pub requester_id: String,
    /// Ditto ID's user id (often an e-mail address or phone number).
    pub user_id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// When it was received (RFC 3339).
    pub received_at: String,
    /// The holder's name as the document gives it.
    pub holder_name: Option<String>,
    /// The document's number.
    pub document_number: Option<String>,
    /// The document's type as Ditto ID named it.
    pub document_type: Option<String>,
    /// KYC Desk's findings.
    pub flags: Vec<Flag>,
    /// What Ditto ID was answered, once it was.
    pub answer: Option<Answer>,
    /// The reviewer the case is assigned to, if any.
    pub assignee: Option<String>,
    /// While Ditto ID's request is held open: when the window closes (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<String>,
    /// As stored: the end of the latest hold window some instance opened on the case (unix ms),
    /// while it is unanswered. Past windows stay here; `hold_until` is set only for a live one.
    #[serde(skip)]
    #[schema(ignore)]
    pub hold_until_ms: Option<i64>,
    /// The final decision contradicts what Ditto ID was told (a late rejection after the
    /// fallback answered `true`, or the reverse): someone must act on the enterprise's side.
    pub conflict: bool,
    /// Four-eyes: who gave the first approval the case waits to have confirmed by someone else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_approval_by: Option<String>,
}

/// Whether a case's final status contradicts the answer Ditto ID got.
pub fn contradicts(status: &str, answer: Option<&Answer>) -> bool {
    match (status, answer) {
        ("approved", Some(a)) => !a.result,
        ("rejected", Some(a)) => a.result,
        _ => false,
    }
}

impl CaseSummary {
    /// Shows the stored hold window (`hold_until`) when it is still open at `now_ms`.
    pub fn show_hold(&mut self, now_ms: i64) {
        self.hold_until = self
            .hold_until_ms
            .filter(|until| *until > now_ms)
            .map(crate::time::rfc3339);
    }

    /// What is left to say about an erased case (its live event): id and reference only.
    pub fn erased(id: i64, reference: String) -> CaseSummary {
        CaseSummary {
            id,
            reference,
            requester_id: String::new(),
            user_id: String::new(),
            status: "erased".into(),
            received_at: String::new(),
            holder_name: None,
            document_number: None,
            document_type: None,
            flags: Vec::new(),
            answer: None,
            assignee: None,
            hold_until: None,
            hold_until_ms: None,
            conflict: false,
            first_approval_by: None,
        }
    }
}

/// One of a case's images, as listed (its bytes are fetched by name).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImageInfo {
    /// Its name in the payload (`selfie`, `front_page`, …; a check's images `check-<i>-<j>-…`).
    pub name: String,
    /// Its media type as its header says.
    pub mime: String,
    /// Width in pixels (0 when its header does not say).
    pub width: u32,
    /// Height in pixels (0 when its header does not say).
    pub height: u32,
    /// Bytes as received.
    pub size: u64,
}

/// A decision as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    /// `approve` or `reject`.
    pub decision: String,
    /// The rejection's reason codes.
    pub reasons: Vec<String>,
    /// The reviewer's comment (may be empty).
    pub comment: String,
    /// `reviewer` or `auto`.
    pub by: String,
    /// The reviewer's account, for a reviewer's decision.
    pub by_user: Option<String>,
    /// When it was made (RFC 3339).
    pub at: String,
    /// For automatic decisions: the rule that decided (e.g. `auto_reject:document_expired`).
    pub rule: Option<String>,
    /// The user id the reviewer linked the Ditto ID user to (Ditto ID renames the user to it).
    pub link_user_id: Option<String>,
    /// False for a first approval still waiting for a second reviewer (four-eyes).
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision {
    /// Approve (true) or reject.
    pub approve: bool,
    /// The rejection's reason codes.
    pub reasons: Vec<String>,
    /// The reviewer's comment.
    pub comment: String,
    /// None for an automatic decision.
    pub by_user: Option<String>,
    /// For an automatic decision: which rule decided.
    pub rule: Option<String>,
    /// Answer Ditto ID with this user id instead of the one it sent (it renames its user).
    pub link_user_id: Option<String>,
    /// A case assigned to someone else refuses this decision (reviewers); supervisors, admins
    /// and automatic decisions pass false.
    pub respect_assignment: bool,
}

/// One webhook delivery as the desk's log shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryInfo {
    /// The delivery's id.
    pub id: i64,
    /// The case it is about.
    pub case_id: i64,
    /// The event it tells (`case.decided`, …).
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (RFC 3339).
    pub next_at: String,
    /// The HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed (never the body).
    pub last_error: Option<String>,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// When it was delivered (RFC 3339).
    pub delivered_at: Option<String>,
}

/// A delivery due for an attempt.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery's id.
    pub id: i64,
    /// The body to post (opened).
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// What storing a submission did.
#[derive(Debug)]
pub enum Inserted {
    /// A new case.
    New(CaseSummary),
    /// Same requester_id and same body: the earlier case.
    Existing(CaseSummary),
}

/// The most cases Ditto ID is shown waiting on ([`CaseQuery::held_at`]).
pub const HELD_MAX: u32 = 500;

/// Filters of the case list.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// `pending`, `approved`, `rejected` or None for all.
    pub status: Option<String>,
    /// Ditto ID's requester id, exactly.
    pub requester_id: Option<String>,
    /// Ditto ID's user id, exactly.
    pub user_id: Option<String>,
    /// Whole words of the holder's name or the document number.
    pub q: Option<String>,
    /// Cases carrying a flag with this code.
    pub flag: Option<String>,
    /// The document's type, exactly.
    pub document_type: Option<String>,
    /// Received at or after (unix ms).
    pub from_ms: Option<i64>,
    /// Received before (unix ms).
    pub to_ms: Option<i64>,
    /// `reviewer`, `auto`, `timeout`, or `none` (not answered yet).
    pub answered_by: Option<String>,
    /// Cases assigned to this account.
    pub assignee: Option<String>,
    /// Four-eyes: pending cases with a first approval waiting for a second (the checker's queue).
    pub awaiting_second: bool,
    /// Only the cases Ditto ID waits on at this time (unix ms), filtered like the rest: those
    /// among the [`HELD_MAX`] soonest deadlines.
    pub held_at: Option<i64>,
    /// On the first page, also count the matching cases (within the store's time budget).
    pub count: bool,
    /// The page's size.
    pub limit: u32,
    /// Continue after this case id (the previous page's `next`).
    pub cursor: Option<i64>,
}

/// One page of the case list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CasePage {
    /// The page's cases, newest first.
    pub cases: Vec<CaseSummary>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// On the first page: the cases Ditto ID is waiting on now (they also appear in `cases`
    /// where their order puts them).
    pub held: Vec<CaseSummary>,
    /// On the first page: pending cases the fallback answered (Ditto ID's window closed without
    /// a decision), oldest first: a reviewer must still look. Same filters as the list.
    pub needs_review: Vec<CaseSummary>,
    /// On a counted first page: how many cases match the filters (capped); None when counting
    /// would have taken longer than the store allows (then `total_capped`).
    pub total: Option<u32>,
    /// More cases match than the count goes to ("1,000+"), or too many to count in time.
    pub total_capped: bool,
}

/// One entry of the audit trail as the desk shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its place in the chain.
    pub id: i64,
    /// When it was written (RFC 3339).
    pub at: String,
    /// Who acted: an account, `ditto-id`, `system`, or `policy`.
    pub actor: String,
    /// What happened, e.g. `case.decided`.
    pub action: String,
    /// The case it is about, if any.
    pub case_id: Option<i64>,
    /// The case's reference (also for an erased case, from its entries).
    pub reference: Option<String>,
    /// The details (ids and codes, never personal data).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// One internal note on a case as the desk shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Note {
    /// The note's id.
    pub id: i64,
    /// `note`, or `escalation` (then `escalated_to` names the supervisor).
    pub kind: String,
    /// Who wrote it.
    pub by: String,
    /// For an escalation: the supervisor it went to.
    pub escalated_to: Option<String>,
    /// When it was written (RFC 3339).
    pub at: String,
    /// What it says.
    pub text: String,
}
