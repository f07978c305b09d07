//! A reviewer's decision as it arrives from an edge: checked here (the permission, the decision's
//! words, reasons from the configured list, a linked user id only with an approval, the lengths)
//! before it is recorded, so every edge refuses the same things the same way.

use kyc_domain::case::NewDecision;
use kyc_domain::roles::Permission;

use super::accounts::allowed;
use super::Desk;
use crate::error::CoreError;
use crate::users::User;
use crate::view::CaseDetail;

/// The longest comment a decision takes, in bytes.
pub const MAX_COMMENT: usize = 4000;

/// A decision as a reviewer sends it.
#[derive(Debug, Clone, Default)]
pub struct DecisionRequest {
    /// `approve` or `reject`.
    pub decision: String,
    /// Reason codes (from `[decision] reasons`); a rejection needs at least one.
    pub reasons: Vec<String>,
    /// The reviewer's comment.
    pub comment: String,
    /// Answer Ditto ID with this user id (an approval only; Ditto ID renames its user).
    pub link_user_id: Option<String>,
}

impl Desk {
    /// Records `by`'s decision on the case `key` after checking it; see [`DecisionRequest`].
    pub async fn decide_by(
        &self,
        by: &User,
        key: &str,
        request: DecisionRequest,
    ) -> Result<CaseDetail, CoreError> {
        allowed(by, Permission::Decide)?;
        let d = self.checked(by, request)?;
        self.decide(key, d).await
    }

    /// The decision to record, or the refusal naming what is wrong.
    fn checked(&self, by: &User, r: DecisionRequest) -> Result<NewDecision, CoreError> {
        let bad = |m: &str| Err(CoreError::BadRequest(m.into()));
        let approve = match r.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => return bad("decision: use approve or reject"),
        };
        if !approve && r.reasons.is_empty() {
            return bad("reasons: a rejection needs at least one reason");
        }
        let link = r.link_user_id.as_deref().map(str::trim);
        let link_user_id = match link.filter(|u| !u.is_empty()) {
            None => None,
            Some(_) if !approve => {
                return bad("user_id: a different user id can only be answered with an approval")
            }
            Some(u) => Some(crate::ingest::validate_user_id(u, "user_id")?),
        };
        let known = |code: &String| self.policy.reasons.iter().any(|k| &k.code == code);
        if let Some(i) = r.reasons.iter().position(|code| !known(code)) {
            return Err(CoreError::BadRequest(format!(
                "reasons[{i}]: not a configured reason code"
            )));
        }
        let too_long = |c: &String| c.is_empty() || c.len() > 200;
        if r.comment.len() > MAX_COMMENT || r.reasons.iter().any(too_long) {
            return bad("comment or reasons too long");
        }
        Ok(NewDecision {
            approve,
            reasons: r.reasons,
            comment: r.comment,
            // A supervisor or admin may decide a case assigned to someone else.
            respect_assignment: !by.role.may(Permission::Reassign),
            by_user: Some(by.name.clone()),
            rule: None,
            link_user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DecisionConfig, ReceiverConfig};
    use crate::ingest::{CustomRules, OpenedBody};
    use kyc_crypto::master::MasterKey;
    use kyc_domain::roles::Role;
    use kyc_store::Store;

    fn user(name: &str, role: Role) -> User {
        User {
            name: name.into(),
            role,
            must_change_password: false,
        }
    }

    fn request(decision: &str, reasons: &[&str], link: Option<&str>) -> DecisionRequest {
        DecisionRequest {
            decision: decision.into(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            comment: String::new(),
            link_user_id: link.map(str::to_string),
        }
    }

    /// Every refusal of a decision, below HTTP: each names what is wrong, and none records
    /// anything (the case stays pending, and a valid decision still goes through after them).
    #[tokio::test]
    async fn a_decision_is_checked_before_anything_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), MasterKey::Key([5; 32])).unwrap();
        let rules = CustomRules::of(&ReceiverConfig::default());
        let policy = DecisionConfig {
            hold_secs: 0,
            ..DecisionConfig::default()
        };
        let desk = Desk::new(std::sync::Arc::new(store), policy, rules);
        let (year, month, day) = kyc_store::timefmt::today();
        let today = kyc_sim::Today { year, month, day };
        let sim = kyc_sim::generate(kyc_sim::Scenario::Clean, 1, 3, &today);
        let body = OpenedBody::plain(sim.payload.to_string().into_bytes());
        let case = desk.accept(body).await.unwrap();
        let key = case.id.to_string();
        let (rita, audrey) = (user("rita", Role::Reviewer), user("audrey", Role::Auditor));
        let long = "x".repeat(MAX_COMMENT + 1);
        let table: Vec<(&User, DecisionRequest, &str)> = vec![
            (
                &audrey,
                request("approve", &[], None),
                "an auditor may read, not decide",
            ),
            (
                &rita,
                request("maybe", &[], None),
                "decision: use approve or reject",
            ),
            (
                &rita,
                request("reject", &[], None),
                "reasons: a rejection needs",
            ),
            (
                &rita,
                request("reject", &["no_such_reason"], None),
                "reasons[0]: not a configured",
            ),
            (
                &rita,
                request("reject", &["document_expired"], Some("cust-1")),
                "user_id: a different",
            ),
            (
                &rita,
                request("approve", &[], Some("cust\u{7}1")),
                "user_id: must not contain control characters",
            ),
            (
                &rita,
                DecisionRequest {
                    comment: long,
                    ..request("approve", &[], None)
                },
                "comment or reasons too long",
            ),
        ];
        for (by, r, want) in table {
            let err = desk.decide_by(by, &key, r).await.unwrap_err().to_string();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
        assert_eq!(desk.store().summary(case.id).unwrap().status, "pending");
        let done = (desk.decide_by(&rita, &key, request("approve", &[], Some("cust-1"))))
            .await
            .unwrap();
        assert_eq!(done.summary.status, "approved");
        assert_eq!(done.summary.answer, None, "nobody asked yet: no answer");
    }
}
