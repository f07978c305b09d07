//! The policy's decision on a case as it arrives (`Store::receive`), on every backend: made from
//! the case's final flags, recorded with the case and Ditto ID's answer settled in the insert's
//! own transaction, and nothing of it when the policy makes none.

use std::cell::RefCell;

use kyc_domain::audit::AuditFilter;
use kyc_domain::flag::Flag;
use kyc_store::OnArrival;

use super::*;

/// The policy's decision: a reviewer's without the reviewer, with its rule and its comment (the
/// policy's say why).
fn automatic(approve: bool) -> NewDecision {
    NewDecision {
        by_user: None,
        rule: Some("auto_approve:clean".into()),
        comment: "Approved automatically: every check passed".into(),
        respect_assignment: false,
        ..decision(approve, "")
    }
}

/// Whether a case with this requester id can be seen from outside the transaction storing it.
fn visible(store: &Store, requester_id: &str) -> bool {
    let q = CaseQuery {
        requester_id: Some(requester_id.into()),
        limit: 5,
        ..CaseQuery::default()
    };
    !listed_ids(store, &q).is_empty()
}

/// The case's actions in the audit trail, oldest first.
fn actions(store: &Store, id: i64) -> Vec<String> {
    let filter = AuditFilter {
        case_id: Some(id),
        ..AuditFilter::default()
    };
    let mut entries = store.audit_page(None, 100, &filter).unwrap();
    entries.reverse();
    entries.into_iter().map(|e| e.action).collect()
}

#[test]
fn a_case_the_policy_decides_on_arrival_is_stored_decided_and_answered() {
    for_each_backend(|backend, store| {
        let now = store.now_ms();
        // An earlier case with the same document under another user: the new one's history flag
        // is added by the store, and the policy must see it.
        let mut earlier = body(1);
        earlier["request_info"]["requester_id"] = "earlier-request".into();
        earlier["request_info"]["user_id"] = "another.person@example.com".into();
        insert(store, &earlier).unwrap();
        let sub = testing::submission(&body(1).to_string());
        let seen: RefCell<Vec<Vec<String>>> = RefCell::new(vec![]);
        let decide = |flags: &[Flag]| {
            // Asked inside the insert's transaction: nobody else sees the case yet.
            assert!(
                !visible(store, &sub.requester_id),
                "{backend}: asked after the commit"
            );
            seen.borrow_mut()
                .push(flags.iter().map(|f| f.code.clone()).collect());
            Some((automatic(true), false))
        };
        let arrival = OnArrival {
            decide: &decide,
            notify: true,
        };
        let Inserted::New(case) = store
            .receive(&sub, &[], now, Some(now + 60_000), Some(&arrival))
            .unwrap()
        else {
            panic!("{backend}: a new case expected");
        };
        let codes: Vec<String> = case.flags.iter().map(|f| f.code.clone()).collect();
        assert!(
            codes.contains(&"document_reused".into()),
            "{backend}: {codes:?}"
        );
        assert_eq!(
            seen.borrow().as_slice(),
            [codes],
            "{backend}: the policy decides on the final flags, once"
        );
        assert_eq!(case.status, "approved", "{backend}");
        assert!(visible(store, &sub.requester_id), "{backend}");
        let answer = case.answer.clone().expect("answered on arrival");
        assert_eq!(answer.user_id, sub.user_id, "{backend}: the user id sent");
        assert_eq!(
            (answer.result, answer.by.as_str()),
            (true, "auto"),
            "{backend}"
        );
        assert_eq!(
            case.hold_until_ms, None,
            "{backend}: the answer ends the hold"
        );
        assert!(store.held_ids(now).unwrap().is_empty(), "{backend}");
        // As stored, not only as returned.
        let stored = store.summary(case.id).unwrap();
        assert_eq!(stored.answer.map(|a| a.result), Some(true), "{backend}");
        let decisions = store.decisions(case.id).unwrap();
        assert_eq!(decisions.len(), 1, "{backend}");
        assert_eq!(
            (decisions[0].by.as_str(), decisions[0].rule.as_deref()),
            ("auto", Some("auto_approve:clean")),
            "{backend}"
        );
        assert_eq!(
            decisions[0].comment, "Approved automatically: every check passed",
            "{backend}: sealed with the case's key as it was stored"
        );
        let deliveries = store.deliveries(Some(case.id), 10).unwrap();
        assert_eq!(
            deliveries.len(),
            1,
            "{backend}: the webhook is queued with it"
        );
        assert_eq!(deliveries[0].event, "case.decided", "{backend}");
        let due = store.due_deliveries(i64::MAX, 10).unwrap();
        let sent: serde_json::Value = serde_json::from_str(&due[0].body).unwrap();
        assert_eq!(
            (&sent["decided_by"], &sent["late"], &sent["user_id"]),
            (&"auto".into(), &false.into(), &sub.user_id.clone().into()),
            "{backend}: the webhook's body opens with the case's key: {sent}"
        );
        let trail = actions(store, case.id);
        let at = |a: &str| trail.iter().position(|x| x == a);
        assert!(
            at("case.received") < at("case.decided")
                && at("case.decided") < at("case.answered")
                && at("case.received").is_some(),
            "{backend}: {trail:?}"
        );
        assert!(trail_is_intact(store), "{backend}");
        // The same submission again finds the case; the policy is not asked again.
        let Inserted::Existing(again) = store
            .receive(&sub, &[], now, Some(now + 60_000), Some(&arrival))
            .unwrap()
        else {
            panic!("{backend}: the earlier case expected");
        };
        assert_eq!(again.id, case.id, "{backend}");
        assert_eq!(seen.borrow().len(), 1, "{backend}");
    });
}

#[test]
fn a_case_the_policy_leaves_or_half_approves_waits_held() {
    for_each_backend(|backend, store| {
        let now = store.now_ms();
        let receive = |i: u64, decision: Option<(NewDecision, bool)>| {
            let decide = move |_: &[Flag]| decision.clone();
            let arrival = OnArrival {
                decide: &decide,
                notify: false,
            };
            let sub = testing::submission(&body(i).to_string());
            match store
                .receive(&sub, &[], now, Some(now + 60_000), Some(&arrival))
                .unwrap()
            {
                Inserted::New(case) => case,
                Inserted::Existing(_) => panic!("{backend}: a new case expected"),
            }
        };
        // No decision: pending, held, nothing answered.
        let left = receive(1, None);
        // A first approval of two (four-eyes): recorded, but the case waits for the second.
        let half = receive(2, Some((automatic(true), true)));
        for case in [&left, &half] {
            assert_eq!(case.status, "pending", "{backend}");
            assert_eq!(case.answer, None, "{backend}");
            assert_eq!(case.hold_until_ms, Some(now + 60_000), "{backend}");
        }
        assert!(store.decisions(left.id).unwrap().is_empty(), "{backend}");
        let first = store.decisions(half.id).unwrap();
        assert_eq!(first.len(), 1, "{backend}");
        assert!(!first[0].is_final, "{backend}");
        assert_eq!(
            store.held_ids(now).unwrap(),
            [left.id, half.id],
            "{backend}"
        );
        // A decision that links another user id answers with it.
        let linked = receive(
            4,
            Some((
                NewDecision {
                    link_user_id: Some("CUST-000042".into()),
                    ..automatic(true)
                },
                false,
            )),
        );
        let answer = linked.answer.expect("answered on arrival");
        assert_eq!(answer.user_id, "CUST-000042", "{backend}");
        assert_eq!(
            store.decisions(linked.id).unwrap()[0]
                .link_user_id
                .as_deref(),
            Some("CUST-000042"),
            "{backend}"
        );
        // A rejection on arrival is answered at once too.
        let rejected = receive(3, Some((automatic(false), false)));
        assert_eq!(rejected.status, "rejected", "{backend}");
        assert_eq!(rejected.answer.map(|a| a.result), Some(false), "{backend}");
        assert!(
            store.deliveries(Some(rejected.id), 10).unwrap().is_empty(),
            "{backend}"
        );
    });
}
