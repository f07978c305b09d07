//! The store's conformance suite: its rules, checked through its public API over every backend in
//! [`BACKENDS`]. Written once; a second backend (PostgreSQL, issue 18) adds one line there and runs
//! the same tests. What only one engine has (its file layout, its migrations from older schemas)
//! is tested beside that backend instead.

use kyc_crypto::master::MasterKey;
use kyc_domain::case::{CaseQuery, Inserted, NewDecision};
use kyc_domain::roles::Role;
use kyc_store::accounts::AccountUpdate;
use kyc_store::chain::Verdict;
use kyc_store::pg::ScratchDatabase;
use kyc_store::{Error, Store};

#[path = "../src/testing.rs"]
mod testing;

/// A fresh, empty store and what keeps it alive (a temporary folder, a scratch database).
type Fresh = (Store, Box<dyn std::any::Any>);

/// Opens a fresh store, or None when this machine has no server for the backend.
type Open = fn() -> Option<Fresh>;

const KEY: [u8; 32] = [3; 32];

/// Every backend the store runs on.
const BACKENDS: &[(&str, Open)] = &[
    ("sqlite", || {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(kyc_store::DB_FILE), MasterKey::Key(KEY));
        Some((store.expect("opens"), Box::new(dir)))
    }),
    ("postgres", || {
        let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
        let db = ScratchDatabase::create(&server).expect("a scratch database");
        let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("opens");
        Some((store, Box::new(db)))
    }),
];

/// PostgreSQL on a database made under a language's collation (ICU `en-US`), as production ones
/// often are, unlike the test server's code-point order: for what depends on how text compares.
const COLLATED: &[(&str, Open)] = &[("postgres, en-US collation", || {
    let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
    let db = ScratchDatabase::create_collated(&server, "en-US").expect("a scratch database");
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("opens");
    Some((store, Box::new(db)))
})];

/// Runs `check` on a fresh store of each backend (PostgreSQL when `KYC_DESK_TEST_PG` names a
/// server: scripts/test.sh starts one and sets `KYC_DESK_REQUIRE_PG`, so there it never skips).
fn for_each_backend(check: impl Fn(&str, &Store)) {
    for_each_of(BACKENDS, check)
}

/// Runs `check` on a fresh store of each of `backends`.
fn for_each_of(backends: &[(&str, Open)], check: impl Fn(&str, &Store)) {
    for (name, open) in backends {
        let Some((store, keep)) = open() else {
            eprintln!("conformance: {name} skipped (KYC_DESK_TEST_PG is not set)");
            continue;
        };
        check(name, &store);
        // The store's connections close before its scratch database is dropped.
        drop(store);
        drop(keep);
    }
}

const TODAY: kyc_sim::Today = kyc_sim::Today {
    year: 2026,
    month: 11,
    day: 29,
};

/// Simulated person `i`'s body (placeholder pictures: the rules read text).
fn body(i: u64) -> serde_json::Value {
    kyc_sim::generate_with(
        kyc_sim::Scenario::Clean,
        i,
        17,
        &TODAY,
        kyc_sim::Pictures::Placeholders,
    )
    .payload
}

fn insert(store: &Store, body: &serde_json::Value) -> Result<Inserted, Error> {
    store.insert_case(
        &testing::submission(&body.to_string()),
        &[],
        1_764_400_000_000,
    )
}

fn new_case(store: &Store, i: u64) -> i64 {
    match insert(store, &body(i)).unwrap() {
        Inserted::New(c) => c.id,
        Inserted::Existing(_) => panic!("a new case expected"),
    }
}

/// Whether the store's audit trail verifies whole.
fn trail_is_intact(store: &Store) -> bool {
    matches!(
        store.verify_audit().unwrap(),
        kyc_store::chain::Verdict::Intact { .. }
    )
}

/// The ids of the cases a page of the queue lists for `q`, in id order.
fn listed_ids(store: &Store, q: &CaseQuery) -> Vec<i64> {
    let mut ids: Vec<i64> = store.list(q).unwrap().cases.iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

/// The ids of the first 50 cases a search for `q` finds, in id order.
fn search_ids(store: &Store, q: &str) -> Vec<i64> {
    listed_ids(
        store,
        &CaseQuery {
            q: Some(q.into()),
            limit: 50,
            ..CaseQuery::default()
        },
    )
}

fn decision(approve: bool, by: &str) -> NewDecision {
    NewDecision {
        approve,
        reasons: if approve {
            vec![]
        } else {
            vec!["document_expired".into()]
        },
        comment: String::new(),
        by_user: Some(by.into()),
        rule: None,
        link_user_id: None,
        respect_assignment: true,
    }
}

#[test]
fn one_case_per_requester_id_and_a_different_body_is_a_conflict() {
    for_each_backend(|backend, store| {
        let first = new_case(store, 1);
        let again = insert(store, &body(1)).unwrap();
        assert!(
            matches!(&again, Inserted::Existing(c) if c.id == first),
            "{backend}: the same body again is the stored case"
        );
        let mut changed = body(1);
        changed["request_info"]["user_id"] = "someone.else@example.com".into();
        assert!(
            matches!(insert(store, &changed), Err(Error::Conflict(_))),
            "{backend}: same requester id, different body"
        );
        assert_eq!(store.count().unwrap(), 1, "{backend}: nothing half-stored");
        let summary = store.summary(first).unwrap();
        assert_eq!(summary.status, "pending");
        assert_eq!(store.resolve(&summary.reference).unwrap(), first);
    });
}

#[test]
fn a_case_is_decided_once_and_four_eyes_needs_a_second_person() {
    for_each_backend(|backend, store| {
        let (a, b) = (new_case(store, 1), new_case(store, 2));
        let decided = store
            .decide(a, &decision(false, "rita"), true, false)
            .unwrap();
        assert_eq!(decided.status, "rejected", "{backend}");
        assert!(
            matches!(
                store.decide(a, &decision(true, "sam"), true, false),
                Err(Error::AlreadyDecided(_))
            ),
            "{backend}: a decided case stays decided"
        );
        let first = store
            .decide(b, &decision(true, "rita"), true, true)
            .unwrap();
        assert_eq!(
            first.status, "pending",
            "{backend}: a first approval is not final"
        );
        assert_eq!(first.first_approval_by.as_deref(), Some("rita"));
        assert!(
            matches!(
                store.decide(b, &decision(true, "rita"), true, true),
                Err(Error::FourEyes)
            ),
            "{backend}: the same person cannot approve twice"
        );
        let second = store.decide(b, &decision(true, "sam"), true, true).unwrap();
        assert_eq!(second.status, "approved", "{backend}");
        let records = store.decisions(b).unwrap();
        assert_eq!(
            records.iter().map(|d| d.is_final).collect::<Vec<_>>(),
            [false, true]
        );
        // Each final decision queued one webhook delivery, in its transaction.
        assert_eq!(store.due_deliveries(i64::MAX, 10).unwrap().len(), 2);
    });
}

#[test]
fn the_answer_is_settled_once() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 1);
        assert_eq!(
            store.settle_answer(id, None).unwrap().map(|a| a.result),
            None
        );
        let timed_out = store.settle_answer(id, Some(false)).unwrap().unwrap();
        assert!(!timed_out.result, "{backend}: the fallback answered");
        // A later approval does not change what Ditto ID was told: it is a conflict.
        let decided = store
            .decide(id, &decision(true, "rita"), false, false)
            .unwrap();
        assert!(decided.conflict, "{backend}");
        let answer = store.settle_answer(id, Some(true)).unwrap().unwrap();
        assert!(!answer.result, "{backend}: settled once");
    });
}

/// A list of the waiting cases (`held_at`) holds those with an open window and no answer,
/// filtered like any list; the others, and windows that ended, stay out.
#[test]
fn a_list_of_the_waiting_cases_is_filtered_like_the_rest() {
    for_each_backend(|backend, store| {
        let now = store.now_ms();
        let ids: Vec<i64> = (1..=4).map(|i| new_case(store, i)).collect();
        store.hold(ids[0], now + 60_000).unwrap();
        store.hold(ids[1], now + 30_000).unwrap();
        store.hold(ids[2], now + 90_000).unwrap();
        store.settle_answer(ids[2], Some(true)).unwrap();
        let waiting = |at: i64, status: Option<&str>| {
            listed_ids(
                store,
                &CaseQuery {
                    held_at: Some(at),
                    status: status.map(str::to_string),
                    limit: 10,
                    ..CaseQuery::default()
                },
            )
        };
        assert_eq!(waiting(now, None), [ids[0], ids[1]], "{backend}");
        assert_eq!(waiting(now + 45_000, None), [ids[0]], "{backend}");
        assert_eq!(
            waiting(now, Some("approved")),
            Vec::<i64>::new(),
            "{backend}"
        );
        assert_eq!(waiting(now, Some("pending")), [ids[0], ids[1]], "{backend}");
    });
}

#[test]
fn a_hold_is_stored_shown_in_the_waiting_list_ended_by_the_answer_and_blocks_erasure() {
    for_each_backend(|backend, store| {
        let now = store.now_ms();
        let held = |at: i64| store.held_ids(at).unwrap();
        let sub = testing::submission(&body(1).to_string());
        let Inserted::New(first) = store
            .receive(&sub, &[], now, Some(now + 60_000), None)
            .unwrap()
        else {
            panic!("{backend}: a new case expected");
        };
        assert_eq!(first.hold_until_ms, Some(now + 60_000), "{backend}");
        let a = first.id;
        let b = new_case(store, 2);
        assert_eq!(held(now), [a], "{backend}: only the held case waits");
        assert!(
            held(now + 60_000).is_empty(),
            "{backend}: a window that ended does not count"
        );

        // Another request (another instance) opens a later window; an earlier one is ignored.
        store.hold(b, now + 30_000).unwrap();
        store.hold(a, now + 90_000).unwrap();
        store.hold(a, now + 10_000).unwrap();
        assert_eq!(
            store.summary(a).unwrap().hold_until_ms,
            Some(now + 90_000),
            "{backend}"
        );
        // The first request hanging up does not end the later window; the later one's does.
        store.release_hold(a, now + 60_000).unwrap();
        assert_eq!(
            held(now),
            [b, a],
            "{backend}: both wait (soonest deadline first)"
        );
        store.release_hold(a, now + 90_000).unwrap();
        assert_eq!(held(now), [b], "{backend}");

        // Erasure is refused while Ditto ID waits; the answer ends the hold, then it may go.
        match store.erase(b, "rita", "ticket 7") {
            Err(Error::Held(reference)) => assert!(reference.starts_with("KYC-"), "{backend}"),
            other => panic!("{backend}: a held case was not refused: {other:?}"),
        }
        assert!(store.summary(b).is_ok(), "{backend}: nothing erased");
        store.settle_answer(b, Some(false)).unwrap().unwrap();
        assert_eq!(store.summary(b).unwrap().hold_until_ms, None, "{backend}");
        assert!(held(now).is_empty(), "{backend}");
        store.hold(b, now + 120_000).unwrap();
        assert!(
            held(now).is_empty(),
            "{backend}: an answered case is never held again"
        );
        store.erase(b, "rita", "ticket 7").unwrap();
    });
}

#[test]
fn failed_sign_ins_are_counted_per_key_cleared_and_pruned() {
    for_each_backend(|backend, store| {
        let day = 24 * 3600 * 1000;
        store
            .record_sign_in_failure(&["address 10.0.0.7", "name 10.0.0.7 ada"], 1_000)
            .unwrap();
        store
            .record_sign_in_failure(&["address 10.0.0.7", "name 10.0.0.7 bob"], 2_000)
            .unwrap();
        assert_eq!(
            store.sign_in_failures("address 10.0.0.7", 0).unwrap(),
            [1_000, 2_000],
            "{backend}"
        );
        assert_eq!(
            store.sign_in_failures("address 10.0.0.7", 1_000).unwrap(),
            [2_000],
            "{backend}: since"
        );
        assert_eq!(
            store.sign_in_failures("name 10.0.0.7 ada", 0).unwrap(),
            [1_000],
            "{backend}"
        );
        assert!(
            store
                .sign_in_failures("address 10.0.0.8", 0)
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        // A success clears the name's count, not the address's.
        store.clear_sign_in_failures("name 10.0.0.7 ada").unwrap();
        assert!(
            store
                .sign_in_failures("name 10.0.0.7 ada", 0)
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        assert_eq!(
            store.sign_in_failures("address 10.0.0.7", 0).unwrap().len(),
            2,
            "{backend}"
        );
        // Only the latest 100 are read back, oldest first.
        for i in 0..120 {
            store
                .record_sign_in_failure(&["address 10.0.0.9"], 10_000 + i)
                .unwrap();
        }
        let many = store.sign_in_failures("address 10.0.0.9", 0).unwrap();
        assert_eq!(
            (many.len(), many[0], many[99]),
            (100, 10_020, 10_119),
            "{backend}"
        );
        // A failure a day later prunes the old ones.
        store
            .record_sign_in_failure(&["address 10.0.0.9"], 10_200 + day)
            .unwrap();
        assert!(
            store
                .sign_in_failures("address 10.0.0.7", 0)
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        assert_eq!(
            store.sign_in_failures("address 10.0.0.9", 0).unwrap(),
            [10_200 + day],
            "{backend}"
        );
    });
}

#[test]
fn an_assigned_case_is_decided_by_its_assignee() {
    for_each_backend(|backend, store| {
        store
            .insert_account("system", "rita", Role::Reviewer, "$hash", false)
            .unwrap();
        let id = new_case(store, 1);
        let assigned = store.assign(id, Some("rita"), "ada").unwrap();
        assert_eq!(assigned.assignee.as_deref(), Some("rita"), "{backend}");
        assert!(
            matches!(
                store.decide(id, &decision(true, "sam"), false, false),
                Err(Error::AssignedElsewhere(who)) if who == "rita"
            ),
            "{backend}"
        );
        assert_eq!(store.summary(id).unwrap().status, "pending");
        store
            .decide(id, &decision(true, "rita"), false, false)
            .unwrap();
    });
}

#[test]
fn an_erased_case_is_gone_but_its_trail_stays_whole() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 1);
        let reference = store.summary(id).unwrap().reference;
        assert!(
            !store.images(id).unwrap().is_empty(),
            "{backend}: stored with its images"
        );
        let (erased, complete) = store.erase(id, "ada", "test").unwrap();
        assert_eq!(erased, reference);
        assert!(
            matches!(store.summary(id), Err(Error::NotFound(_))),
            "{backend}"
        );
        assert!(
            store.image(id, "selfie").is_err(),
            "{backend}: its images too"
        );
        assert!(complete, "{backend}: no reader held the erased bytes back");
        assert!(!store.erasures_pending().unwrap());
        let trail: Vec<String> = store
            .timeline(id)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            trail,
            ["case.received", "case.erased", "case.erasure_completed"],
            "{backend}: the trail keeps the erased case's events"
        );
        assert!(trail_is_intact(store), "{backend}");
        // Its number is never given to another case.
        assert!(new_case(store, 2) > id, "{backend}");
    });
}

#[test]
fn accounts_keep_an_admin_and_a_change_ends_their_sessions() {
    for_each_backend(|backend, store| {
        store
            .insert_account("setup", "ada", Role::Admin, "$ada", true)
            .unwrap();
        assert!(
            matches!(
                store.insert_account("setup", "eve", Role::Admin, "$eve", true),
                Err(Error::BadRequest(_))
            ),
            "{backend}: the first-admin path closes once an account exists"
        );
        assert!(matches!(
            store.insert_account("system", "ada", Role::Reviewer, "$x", false),
            Err(Error::UserExists(_))
        ));
        let row = store.sign_in_row("ada").unwrap().unwrap();
        assert_eq!(row.password_hash, "$ada");
        let session = store
            .open_sign_in("ada", &row, 60, &serde_json::json!({}))
            .unwrap();
        assert_eq!(store.session_user(&session.token).unwrap().name, "ada");
        assert!(
            matches!(
                store.update_account("ada", "ada", &AccountUpdate::Disable),
                Err(Error::LastAdmin)
            ),
            "{backend}: the last admin stays"
        );
        assert!(
            !store.accounts().unwrap()[0].disabled,
            "{backend}: refused, nothing changed"
        );
        store
            .update_account(
                "ada",
                "ada",
                &AccountUpdate::ResetPassword {
                    hash: "$new".into(),
                },
            )
            .unwrap();
        assert!(
            matches!(
                store.session_user(&session.token),
                Err(Error::Unauthenticated)
            ),
            "{backend}: the change ended the session"
        );
        assert!(matches!(
            store.replace_password("ada", "$old", "$newer", 60),
            Err(Error::Unauthenticated)
        ));
        let again = store.replace_password("ada", "$new", "$newer", 60).unwrap();
        store.logout(&again.token).unwrap();
        assert!(store.session_user(&again.token).is_err(), "{backend}");
        assert!(
            matches!(store.verify_audit().unwrap(), kyc_store::chain::Verdict::Intact { entries } if entries >= 4)
        );
    });
}

#[test]
fn the_decisions_export_streams_every_decision_with_its_ids() {
    for_each_backend(|backend, store| {
        let ids: Vec<i64> = (1..=3).map(|i| new_case(store, i)).collect();
        for id in &ids {
            store
                .decide(*id, &decision(false, "rita"), false, false)
                .unwrap();
        }
        assert_eq!(store.decision_count(0, i64::MAX).unwrap(), 3, "{backend}");
        let mut seen = Vec::new();
        let n = store
            .decisions_each(0, i64::MAX, |d| {
                seen.push(d.user_id);
                Ok::<_, Error>(seen.len() < 2)
            })
            .unwrap();
        assert_eq!(n, 2, "{backend}: stops when asked");
        assert!(
            seen.iter().all(|u| u.contains('@') || u.starts_with('+')),
            "{backend}: opened"
        );
        // Statistics' rows: every case, the decided ones' status as numbers, on each backend.
        let (four, five) = (new_case(store, 4), new_case(store, 5));
        store
            .decide(five, &decision(true, "sam"), false, false)
            .unwrap();
        let rows = store.stats_rows(0, i64::MAX).unwrap();
        let mut seen: Vec<(Option<bool>, bool, Option<&str>)> = rows
            .iter()
            .map(|r| (r.approved, r.timed_out, r.by.as_deref()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                (None, false, None),
                (Some(false), false, Some("rita")),
                (Some(false), false, Some("rita")),
                (Some(false), false, Some("rita")),
                (Some(true), false, Some("sam")),
            ],
            "{backend}: {four} pending"
        );
    });
}

#[test]
fn a_claimed_delivery_is_no_other_workers_until_its_lease_ends() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 1);
        store
            .decide(id, &decision(true, "rita"), true, false)
            .unwrap();
        let now = 1_800_000_000_000;
        let claimed = store.claim_deliveries(now, 10, 60_000).unwrap();
        assert_eq!(claimed.len(), 1, "{backend}");
        assert!(
            store.claim_deliveries(now, 10, 60_000).unwrap().is_empty(),
            "{backend}: claimed once"
        );
        // The worker died mid-attempt: another takes it when the lease ends.
        let again = store.claim_deliveries(now + 60_000, 10, 60_000).unwrap();
        assert_eq!(again.len(), 1, "{backend}");
        assert_eq!(again[0].body, claimed[0].body);
    });
}

#[test]
fn a_webhook_delivery_is_retried_until_delivered_or_given_up() {
    for_each_backend(|backend, store| {
        let id = new_case(store, 1);
        store
            .decide(id, &decision(true, "rita"), true, false)
            .unwrap();
        let due = store.due_deliveries(i64::MAX, 10).unwrap();
        assert_eq!(due.len(), 1, "{backend}: queued with the decision");
        let body: serde_json::Value = serde_json::from_str(&due[0].body).unwrap();
        assert_eq!(body["decision"], "approve", "{backend}: the body opens");
        let delivery = due[0].id;
        let later = i64::MAX / 2;
        store
            .delivery_attempt(delivery, false, Some(503), Some("busy"), Some(later))
            .unwrap();
        assert!(
            store.due_deliveries(later - 1, 10).unwrap().is_empty(),
            "{backend}: not before its retry time"
        );
        assert_eq!(store.next_delivery_at().unwrap(), Some(later));
        store
            .delivery_attempt(delivery, false, None, Some("refused"), None)
            .unwrap();
        let log = store.deliveries(Some(id), 10).unwrap();
        assert_eq!(
            (log[0].status.as_str(), log[0].attempts),
            ("failed", 2),
            "{backend}"
        );
        assert!(
            store.due_deliveries(i64::MAX, 10).unwrap().is_empty(),
            "{backend}: given up"
        );
        store.resend_delivery(delivery).unwrap();
        store
            .delivery_attempt(delivery, true, Some(200), None, None)
            .unwrap();
        let log = store.deliveries(None, 10).unwrap();
        assert_eq!(log[0].status, "delivered", "{backend}");
        assert!(log[0].delivered_at.is_some());
        assert!(matches!(
            store.resend_delivery(delivery + 100),
            Err(Error::NotFound(_))
        ));
    });
}

#[test]
fn notes_are_kept_sealed_escalation_assigns_and_both_go_with_the_case() {
    for_each_backend(|backend, store| {
        store
            .insert_account("system", "sue", Role::Supervisor, "$sue", false)
            .unwrap();
        store
            .insert_account("system", "rita", Role::Reviewer, "$rita", false)
            .unwrap();
        let id = new_case(store, 1);
        store
            .add_note(id, "rita", "Called the holder back", None)
            .unwrap();
        assert!(
            matches!(
                store.add_note(id, "rita", "please look", Some("rita")),
                Err(Error::BadRequest(_))
            ),
            "{backend}: only a supervisor or admin takes an escalation"
        );
        let escalated = store
            .add_note(id, "rita", "Looks forged", Some("sue"))
            .unwrap();
        assert_eq!(escalated.assignee.as_deref(), Some("sue"), "{backend}");
        let notes = store.notes(id).unwrap();
        assert_eq!(
            notes
                .iter()
                .map(|n| (n.kind.as_str(), n.text.as_str()))
                .collect::<Vec<_>>(),
            [
                ("note", "Called the holder back"),
                ("escalation", "Looks forged")
            ],
            "{backend}"
        );
        assert_eq!(store.supervisors().unwrap(), ["sue"], "{backend}");
        store.erase(id, "ada", "test").unwrap();
        assert!(
            matches!(store.notes(id), Err(Error::NotFound(_))),
            "{backend}: the notes went with the case"
        );
    });
}

#[test]
fn a_cases_images_come_back_byte_for_byte() {
    for_each_backend(|backend, store| {
        let sub = testing::submission(&body(3).to_string());
        let Inserted::New(case) = store.insert_case(&sub, &[], 1_764_400_000_000).unwrap() else {
            panic!("{backend}: a new case expected");
        };
        assert_eq!(store.images(case.id).unwrap().len(), sub.images.len());
        assert!(sub.images.len() >= 2, "the body carries several images");
        for img in &sub.images {
            let (mime, bytes) = store.image(case.id, &img.name).unwrap();
            assert_eq!(bytes, img.bytes, "{backend}: {}", img.name);
            assert_eq!(mime, img.format.mime(), "{backend}: {}", img.name);
        }
    });
}

#[path = "conformance/arrival.rs"]
mod arrival;
#[path = "conformance/erase.rs"]
mod erase;
#[path = "conformance/images.rs"]
mod images;
#[path = "conformance/import.rs"]
mod import;
#[path = "conformance/kept_sessions.rs"]
mod kept_sessions;
#[path = "conformance/postgres.rs"]
mod postgres;
#[path = "conformance/queue.rs"]
mod queue;
#[path = "conformance/reuse.rs"]
mod reuse;
#[path = "conformance/search.rs"]
mod search;
#[path = "conformance/snapshot.rs"]
mod snapshot;
