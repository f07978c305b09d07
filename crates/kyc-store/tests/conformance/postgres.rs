//! What only PostgreSQL has, beside the suite that runs on every backend: several stores (one per
//! instance) on one database, the copy of a SQLite store into one (`migrate-store`), and TLS to the
//! server. Each test needs the test server (`KYC_DESK_TEST_PG`).

use super::*;

/// Several stores (one per instance) on one PostgreSQL database: what one writes, the others
/// read; the rules hold across them; one's announcements reach the others.
mod several_instances {
    use super::*;
    use kyc_store::Heard;
    use std::sync::{mpsc, Arc, Barrier};
    use std::time::Duration;

    /// Two stores on one scratch database, or None without a test server.
    fn two() -> Option<(Store, Store, ScratchDatabase)> {
        let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
        let db = ScratchDatabase::create(&server).expect("a scratch database");
        let a = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("A opens");
        let b = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("B opens");
        Some((a, b, db))
    }

    #[test]
    fn a_case_received_by_one_is_decided_on_the_other_and_answered_once() {
        let Some((a, b, _db)) = two() else { return };
        let id = new_case(&a, 1);
        assert_eq!(b.summary(id).unwrap().status, "pending");
        b.decide(id, &decision(false, "rita"), false, false)
            .unwrap();
        let answer = a.settle_answer(id, Some(true)).unwrap().unwrap();
        assert!(
            !answer.result,
            "A answers with B's rejection, not its fallback"
        );
        let again = b.settle_answer(id, Some(true)).unwrap().unwrap();
        assert_eq!(
            (again.result, again.at),
            (answer.result, answer.at),
            "settled once"
        );
        assert!(matches!(
            a.decide(id, &decision(true, "sam"), false, false),
            Err(Error::AlreadyDecided(_))
        ));
        assert!(matches!(
            a.verify_audit().unwrap(),
            kyc_store::chain::Verdict::Intact { .. }
        ));
    }

    #[test]
    fn a_selfie_one_instance_stored_is_found_by_the_other_without_a_restart() {
        let Some((a, b, _db)) = two() else { return };
        // Both indexes were built at open, empty. A stores a case; B, receiving another user's
        // case with the same selfie and portrait (placeholder pictures repeat), must still see
        // the reuse of both.
        let first = new_case(&a, 1);
        let second = match insert(&b, &body(2)).unwrap() {
            Inserted::New(c) => c,
            Inserted::Existing(_) => panic!("a new case expected"),
        };
        let first_ref = a.summary(first).unwrap().reference;
        for code in ["selfie_reused", "portrait_reused"] {
            let reused = second.flags.iter().find(|f| f.code == code);
            assert_eq!(
                reused.map(|f| f.cases.clone()),
                Some(vec![first_ref.clone()]),
                "{code}: {:?}",
                second.flags
            );
        }
        // And A, in turn, finds B's case on its next insert.
        let third = match insert(&a, &body(3)).unwrap() {
            Inserted::New(c) => c,
            Inserted::Existing(_) => panic!("a new case expected"),
        };
        let reused = third
            .flags
            .iter()
            .find(|f| f.code == "selfie_reused")
            .unwrap();
        assert!(
            reused.cases.contains(&second.reference),
            "{:?}",
            reused.cases
        );
    }

    #[test]
    fn a_job_runs_on_one_instance_at_a_time() {
        let Some((a, b, _db)) = two() else { return };
        let held = a.try_job_lock("retention").unwrap().expect("A takes it");
        assert!(
            b.try_job_lock("retention").unwrap().is_none(),
            "B waits its turn"
        );
        assert!(
            a.try_job_lock("retention").unwrap().is_none(),
            "once per database"
        );
        assert!(b.try_job_lock("another job").unwrap().is_some(), "per job");
        drop(held);
        assert!(
            b.try_job_lock("retention").unwrap().is_some(),
            "released with A's lock"
        );
    }

    /// Two posts of one requester id store their images before the write lock (both wait
    /// behind it, held elsewhere); the one that gets it second finds the first's case under it
    /// and stands back: one case, one blob, the second answered with the first's case.
    #[test]
    fn a_post_staged_behind_another_of_the_same_requester_id_stands_back() {
        let Some((a, b, db)) = two() else { return };
        let held = db.hold_write_lock().unwrap();
        let posts: Vec<_> = [a, b]
            .into_iter()
            .map(|store| {
                std::thread::spawn(move || match insert(&store, &body(8)).unwrap() {
                    Inserted::New(c) => ("new", c.id),
                    Inserted::Existing(c) => ("existing", c.id),
                })
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db.write_lock_waiters().unwrap() < 2 {
            assert!(std::time::Instant::now() < deadline, "both posts wait");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Both staged already: their images are in the database, uncommitted, while they wait.
        let storing = db
            .as_admin(
                "SELECT count(DISTINCT pid) FROM pg_locks WHERE mode = 'RowExclusiveLock' \
                 AND relation = 'case_blobs'::regclass",
            )
            .unwrap();
        assert_eq!(storing, ["2"], "the images are stored before the lock");
        drop(held);
        let mut got: Vec<_> = posts.into_iter().map(|p| p.join().unwrap()).collect();
        got.sort();
        assert_eq!(got[0].1, got[1].1, "{got:?}");
        assert_eq!((got[0].0, got[1].0), ("existing", "new"), "{got:?}");
        let blobs = db.as_admin("SELECT count(*) FROM case_blobs").unwrap();
        assert_eq!(blobs, ["1"]);
    }

    /// New cases waiting behind the write lock hold at most half the pool's connections while
    /// they wait: a read still finds one (with a pool of two, the second would otherwise be held
    /// by the second post, and the read would wait for "every connection of the pool is busy").
    #[test]
    fn posts_waiting_behind_the_write_lock_leave_connections_for_reads() {
        let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
            return;
        };
        let db = ScratchDatabase::create(&server).expect("a scratch database");
        let mut target = db.target.clone();
        target.pool = 2;
        let store = Arc::new(Store::open_postgres(&target, MasterKey::Key(KEY)).unwrap());
        let held = db.hold_write_lock().unwrap();
        let posts: Vec<_> = (0..3)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || new_case(&store, 20 + i))
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db.write_lock_waiters().unwrap() < 1 {
            assert!(std::time::Instant::now() < deadline, "a post waits");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(store.count().unwrap(), 0, "a read goes on meanwhile");
        drop(held);
        for post in posts {
            post.join().unwrap();
        }
        assert_eq!(store.count().unwrap(), 3);
    }

    #[test]
    fn the_same_requester_id_posted_to_both_at_once_is_one_case() {
        let Some((a, b, db)) = two() else { return };
        let (a, b) = (Arc::new(a), Arc::new(b));
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    match insert(&store, &body(7)).unwrap() {
                        Inserted::New(c) | Inserted::Existing(c) => c.id,
                    }
                })
            })
            .collect();
        let ids: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
        let page = a.list(&CaseQuery::default()).unwrap();
        assert_eq!(page.cases.len(), 1);
        // Images stored (staged) by the posts that lost went with their transactions.
        let blobs = db.as_admin("SELECT count(*) FROM case_blobs").unwrap();
        assert_eq!(blobs, ["1"]);
        // Distinct people at once get distinct numbers, and the trail stays one chain.
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                std::thread::spawn(move || new_case(&store, 100 + i))
            })
            .collect();
        let mut ids: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6);
        assert!(matches!(
            b.verify_audit().unwrap(),
            kyc_store::chain::Verdict::Intact { .. }
        ));
    }

    #[test]
    fn what_one_announces_reaches_the_others_and_not_itself() {
        let Some((a, b, _db)) = two() else { return };
        let (to_a, at_a) = mpsc::channel();
        let (to_b, at_b) = mpsc::channel();
        assert!(a.is_shared() && b.is_shared());
        a.listen(move |heard| {
            if let Heard::Announced { kind, case, .. } = heard {
                drop(to_a.send((kind.to_string(), case)))
            }
        })
        .unwrap();
        b.listen(move |heard| {
            if let Heard::Announced {
                kind,
                case,
                reference,
            } = heard
            {
                assert_eq!(reference, format!("KYC-{case}"));
                drop(to_b.send((kind.to_string(), case)))
            }
        })
        .unwrap();
        // `listen` returns once its connection listens (a notice sent before that would not be
        // delivered to it): the very first announcement lands.
        let first = |from: &Store, to: &mpsc::Receiver<(String, i64)>, kind: &str, id: i64| {
            from.announce(&[kind], id, &format!("KYC-{id}")).unwrap();
            to.recv_timeout(Duration::from_secs(10)).ok()
        };
        assert_eq!(
            first(&a, &at_b, "case.decided", 42),
            Some(("case.decided".to_string(), 42))
        );
        assert_eq!(
            first(&b, &at_a, "case.created", 7),
            Some(("case.created".to_string(), 7))
        );
        // Several at once (a case decided and answered as it arrived): each heard, in order.
        let kinds = ["case.created", "case.decided", "case.answered"];
        a.announce(&kinds, 9, "KYC-9").unwrap();
        for kind in kinds {
            assert_eq!(
                at_b.recv_timeout(Duration::from_secs(10)).ok(),
                Some((kind.to_string(), 9))
            );
        }
        // B's own notices never came back to it: only A's, which it heard.
        std::thread::sleep(Duration::from_millis(300));
        assert!(at_b.try_iter().next().is_none(), "B does not hear itself");
    }

    /// A listener whose connection is cut says so once it listens again (what was announced
    /// meanwhile is missed: a live view reloads), and hears the next announcements.
    #[test]
    fn a_listener_back_after_a_lost_connection_says_so_and_hears_again() {
        let Some((a, b, db)) = two() else { return };
        let (to_b, at_b) = mpsc::channel();
        b.listen(move |heard| {
            drop(to_b.send(match heard {
                Heard::Announced { kind, case, .. } => format!("{kind} {case}"),
                Heard::Resumed => "resumed".to_string(),
            }))
        })
        .unwrap();
        let heard_next = |id: i64| {
            for _ in 0..100 {
                a.announce(&["case.created"], id, "KYC-1").unwrap();
                if let Ok(e) = at_b.recv_timeout(Duration::from_millis(100)) {
                    return e;
                }
            }
            panic!("B heard nothing of case {id}");
        };
        assert_eq!(heard_next(1), "case.created 1");
        while at_b.try_recv().is_ok() {}
        assert_eq!(
            cut_the_listener(&db),
            ["t"],
            "B's listener was connected, under its name"
        );
        assert_eq!(
            at_b.recv_timeout(Duration::from_secs(10)).as_deref(),
            Ok("resumed")
        );
        // Announcements made while B listens again are heard (a few from the first tries may
        // be missed: B was still connecting).
        assert_eq!(heard_next(2), "case.created 2");
    }
}

/// Cuts the connection of the listener of each store on `db` (as a database restart or a network
/// blip would); `t` for each one cut.
pub(super) fn cut_the_listener(db: &ScratchDatabase) -> Vec<String> {
    db.as_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{}' AND datname = current_database()",
        kyc_store::pg::LISTENER_NAME
    ))
    .unwrap()
}

/// The scrub codes of a case's `case.erasure_completed` entry.
fn scrub_of(store: &Store, id: i64) -> serde_json::Value {
    let trail = store.timeline(id).unwrap();
    let done = trail
        .iter()
        .find(|e| e.action == "case.erasure_completed")
        .expect("the erasure completed");
    done.detail["scrub"].clone()
}

#[test]
fn a_desk_role_that_is_no_superuser_migrates_searches_erases_and_scrubs() {
    let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
        return;
    };
    let db = ScratchDatabase::create_for_own_role(&server).expect("a database with its own role");
    // As the database's owner, not a superuser: the schema, pg_trgm and its indexes.
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).expect("opens");
    let trgm = db
        .as_admin("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%trgm' ORDER BY 1")
        .unwrap();
    assert_eq!(trgm, ["cases_reference_trgm", "cases_requester_trgm"]);
    let a = new_case(&store, 1);
    let reference = store.summary(a).unwrap().reference;
    let q = CaseQuery {
        q: Some(reference[reference.len() - 4..].to_string()),
        limit: 10,
        ..CaseQuery::default()
    };
    assert_eq!(
        store.list(&q).unwrap().cases.len(),
        1,
        "part of the reference"
    );

    // Without the grant: the key table is rewritten, the WAL segment is not switched.
    store.erase(a, "rita", "ticket 1").unwrap();
    assert_eq!(
        scrub_of(&store, a),
        serde_json::json!(["case_keys_rewritten"])
    );
    let role = db
        .target
        .url
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_string();
    db.as_admin(&format!(
        "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO {role}"
    ))
    .unwrap();
    let b = new_case(&store, 2);
    store.erase(b, "rita", "ticket 2").unwrap();
    assert_eq!(
        scrub_of(&store, b),
        serde_json::json!(["case_keys_rewritten", "wal_switched"])
    );
    assert!(trail_is_intact(&store));
    drop(store);
}

/// A database from before schema 10 (case ids from the counter, under the write lock) goes on
/// after its highest case number, an erased case's included, once ids come from a sequence; and
/// the counter follows the sequence (a copy to SQLite goes on after it too).
#[test]
fn case_numbers_go_on_after_the_counter_when_they_come_from_a_sequence() {
    let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
        return;
    };
    let db = ScratchDatabase::create(&server).unwrap();
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    let ids: Vec<i64> = (1..=3).map(|i| new_case(&store, i)).collect();
    store.erase(ids[2], "rita", "ticket 9").unwrap();
    drop(store);
    db.as_admin(
        "DROP SEQUENCE case_ids; DELETE FROM schema_migrations WHERE version >= 10; \
         UPDATE counters SET last = 3 WHERE name = 'case'",
    )
    .unwrap();
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    let next = new_case(&store, 4);
    assert_eq!(next, ids[2] + 1, "the erased case's number stays used");
    let counter = db
        .as_admin("SELECT last FROM counters WHERE name = 'case'")
        .unwrap();
    assert_eq!(counter, [next.to_string()]);
    drop(store);
}

/// A store on a scratch database with one case and several connections in its pool (the one it
/// opened first included), or None without a test server.
fn a_store_with_pooled_connections() -> Option<(ScratchDatabase, Store, i64)> {
    let server = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG")?;
    let db = ScratchDatabase::create(&server).unwrap();
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    let id = new_case(&store, 1);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| store.ping().unwrap());
        }
    });
    Some((db, store, id))
}

/// Every connection of a store cut, as a database restart or a failover cuts them: reads fail
/// while the database is out of reach, and the store serves again once it is back (the pool
/// drops the dead connections and opens new ones; its bookkeeping never breaks).
#[test]
fn a_store_whose_connections_were_cut_serves_again_once_the_database_is_back() {
    let Some((db, store, id)) = a_store_with_pooled_connections() else {
        return;
    };
    db.allow_connections(false).unwrap();
    for _ in 0..10 {
        assert!(store.ping().is_err(), "the database is out of reach");
    }
    db.allow_connections(true).unwrap();
    store.ping().unwrap();
    assert_eq!(store.summary(id).unwrap().id, id);
    assert!(new_case(&store, 2) > id);
}

/// A database restart (or a failover) cuts every pooled connection while the store is idle: the
/// reads and writes that come next do not fail on them, each runs on a new connection (the dead
/// ones fail at their first exchange, before anything was done).
#[test]
fn after_a_database_restart_the_next_reads_and_writes_do_not_fail() {
    let Some((db, store, id)) = a_store_with_pooled_connections() else {
        return;
    };
    // A restart before each of a snapshot, a write and a statement read alone: each first takes
    // an idle connection the restart cut.
    let restart = || {
        db.allow_connections(false).unwrap();
        db.allow_connections(true).unwrap();
    };
    restart();
    assert_eq!(store.summary(id).unwrap().id, id);
    restart();
    assert!(new_case(&store, 2) > id);
    restart();
    store.ping().unwrap();
}

/// Schema 11: the document's and the user's tag indexes end with the id, so that a new case's
/// history reads a tag's latest cases from the index whatever plan is chosen; on a new database
/// and on one from before.
#[test]
fn the_tag_indexes_end_with_the_id() {
    let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
        return;
    };
    let db = ScratchDatabase::create(&server).unwrap();
    let defined = "SELECT indexname || ' ' || regexp_replace(indexdef, '.* USING btree ', '') \
                   FROM pg_indexes WHERE tablename = 'cases' \
                   AND indexname IN ('cases_document_tag', 'cases_user_tag') ORDER BY indexname";
    let expected = [
        "cases_document_tag (document_tag, id)",
        "cases_user_tag (user_tag, id)",
    ];
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    new_case(&store, 1);
    drop(store);
    assert_eq!(db.as_admin(defined).unwrap(), expected);
    db.as_admin(
        "DROP INDEX cases_document_tag, cases_user_tag; \
         CREATE INDEX cases_document_tag ON cases (document_tag); \
         CREATE INDEX cases_user_tag ON cases (user_tag); \
         DELETE FROM schema_migrations WHERE version >= 11",
    )
    .unwrap();
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    assert_eq!(db.as_admin(defined).unwrap(), expected);
    new_case(&store, 2);
    drop(store);
}

/// A database from before schema 8 (decisions not yet kept on their cases) opens with each final
/// decision carried onto its case, where statistics read it.
#[test]
fn decisions_made_before_schema_8_are_carried_onto_their_cases() {
    let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
        return;
    };
    let db = ScratchDatabase::create(&server).unwrap();
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    let (auto, reviewed, waiting) = (
        new_case(&store, 1),
        new_case(&store, 2),
        new_case(&store, 3),
    );
    let mut by_policy = decision(true, "sue");
    by_policy.by_user = None;
    store.decide(auto, &by_policy, false, false).unwrap();
    store
        .decide(reviewed, &decision(false, "sue"), false, false)
        .unwrap();
    drop(store);
    // Back to schema 7: the columns, and the index that covers them, did not exist (nor
    // schema 9's indexes, nor schema 10's sequence).
    db.as_admin(
        "DROP SEQUENCE case_ids; \
         DROP INDEX cases_received, cases_reference_c, cases_requester_c, decisions_first_approvals; \
         ALTER TABLE cases DROP COLUMN decided_at, DROP COLUMN decided_by; \
         CREATE INDEX cases_received ON cases (received_at, status, answer_by, answer_result); \
         DELETE FROM schema_migrations WHERE version >= 8",
    )
    .unwrap();
    let store = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    // One row per case, told apart by its outcome.
    let mut rows: Vec<_> = store
        .stats_rows(i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|r| (r.approved, r.decided_at.is_some(), r.by))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            (None, false, None),
            (Some(false), true, Some("sue".to_string())),
            (Some(true), true, Some("automatic".to_string())),
        ]
    );
    assert_eq!(store.summary(waiting).unwrap().status, "pending");
}

/// `kyc-desk migrate-store`'s copy: a SQLite store moves to PostgreSQL whole, its trail link for
/// link, and the moved store goes on where the old one stopped.
#[test]
fn a_sqlite_store_moves_to_postgres_whole() {
    let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let old = Store::open(&dir.path().join(kyc_store::DB_FILE), MasterKey::Key(KEY)).unwrap();
    old.insert_account("system", "sue", Role::Supervisor, "$sue", false)
        .unwrap();
    let ids: Vec<i64> = (0..4).map(|i| new_case(&old, i)).collect();
    old.decide(ids[0], &decision(false, "sue"), true, false)
        .unwrap();
    old.add_note(ids[1], "sue", "Called the holder back", None)
        .unwrap();
    old.erase(ids[2], "sue", "asked to").unwrap();
    let db = ScratchDatabase::create(&server).unwrap();
    let report = old.copy_to_postgres(&db.target).unwrap();
    assert_eq!(report.blobs, 3, "the erased case's images are gone");
    let rows = |t: &str| report.rows.iter().find(|(n, _)| *n == t).unwrap().1;
    assert_eq!((rows("cases"), rows("decisions"), rows("notes")), (3, 1, 1));

    let new = Store::open_postgres(&db.target, MasterKey::Key(KEY)).unwrap();
    let Verdict::Intact { entries } = old.verify_audit().unwrap() else {
        panic!("the old trail is whole");
    };
    assert_eq!(new.verify_audit().unwrap(), Verdict::Intact { entries });
    for &id in [ids[0], ids[1], ids[3]].iter() {
        assert_eq!(
            new.summary(id).unwrap().reference,
            old.summary(id).unwrap().reference
        );
        for img in old.images(id).unwrap() {
            assert_eq!(
                new.image(id, &img.name).unwrap(),
                old.image(id, &img.name).unwrap()
            );
        }
    }
    assert_eq!(new.summary(ids[0]).unwrap().status, "rejected");
    // The decision kept on its case (what statistics read) came along.
    let decided = |s: &Store| {
        let mut rows: Vec<_> = s
            .stats_rows(i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|r| (r.received_at, r.approved, r.decided_at, r.by))
            .collect();
        rows.sort();
        rows
    };
    let rows = decided(&new);
    assert_eq!(rows, decided(&old));
    assert_eq!(
        rows.iter()
            .filter(|r| r.1 == Some(false) && r.2.is_some() && r.3.as_deref() == Some("sue"))
            .count(),
        1,
        "{rows:?}"
    );
    assert_eq!(new.notes(ids[1]).unwrap()[0].text, "Called the holder back");
    assert!(matches!(new.summary(ids[2]), Err(Error::NotFound(_))));
    // It goes on: numbers after every one used, new decisions and notes get fresh ids.
    let next = new_case(&new, 9);
    assert!(next > ids[3]);
    new.decide(next, &decision(true, "sue"), true, false)
        .unwrap();
    new.add_note(next, "sue", "fine", None).unwrap();
    assert_eq!(new.due_deliveries(i64::MAX, 10).unwrap().len(), 2);
    // A second copy into the same database is refused, with nothing changed.
    let again = old.copy_to_postgres(&db.target).unwrap_err();
    assert!(again.to_string().contains("already holds data"), "{again}");
    // With another master key the copy does not open.
    drop(new);
    assert!(Store::open_postgres(&db.target, MasterKey::Key([9; 32])).is_err());
}

/// `[storage] ca_file`: every connection is TLS, the server's certificate verified against the
/// configured CA; another CA's certificate is refused, and `sslmode=require` without a CA is a
/// configuration error, not a connection in the clear.
#[test]
fn the_database_is_reached_over_tls_verified_against_the_configured_ca() {
    let Some(server) = ScratchDatabase::test_server().expect("KYC_DESK_TEST_PG") else {
        return;
    };
    let (Ok(ca), Ok(other)) = (
        std::env::var("KYC_DESK_TEST_PG_CA"),
        std::env::var("KYC_DESK_TEST_PG_OTHER_CA"),
    ) else {
        assert!(
            std::env::var_os("KYC_DESK_REQUIRE_PG").is_none(),
            "scripts/pg.sh's server speaks TLS: KYC_DESK_TEST_PG_CA must be set"
        );
        return;
    };
    let db = ScratchDatabase::create(&server).unwrap();
    let with = |pem: &str| kyc_store::pg::PgTarget {
        ca_pem: Some(std::fs::read(pem).unwrap()),
        ..db.target.clone()
    };
    let store = Store::open_postgres(&with(&ca), MasterKey::Key(KEY)).expect("TLS, verified");
    new_case(&store, 1);
    drop(store);
    let refused = Store::open_postgres(&with(&other), MasterKey::Key(KEY))
        .err()
        .expect("a certificate another CA signed is refused");
    assert!(
        refused.to_string().to_lowercase().contains("certificate"),
        "{refused}"
    );
    let clear = kyc_store::pg::PgTarget {
        url: format!("{}?sslmode=require", db.target.url),
        ..db.target.clone()
    };
    let err = Store::open_postgres(&clear, MasterKey::Key(KEY))
        .err()
        .unwrap();
    assert!(matches!(err, Error::Config(_)), "{err}");
}
