//! Retention's erasures on every backend: many cases in short transactions, the held and the gone
//! skipped, and the expired cases found in case order after a sweep's cursor.

use super::*;

#[test]
fn a_retention_sweep_skips_a_case_another_sweep_erased_first() {
    for_each_backend(|backend, store| {
        let (gone, kept) = (new_case(store, 1), new_case(store, 2));
        store.erase(gone, "retention", "first sweep").unwrap();
        let reference = store.summary(kept).unwrap().reference;
        let (erased, complete) = store
            .erase_all(&[gone, kept], "retention", "second sweep")
            .unwrap();
        assert_eq!(erased, [(kept, reference)], "{backend}");
        assert!(complete, "{backend}");
        assert!(store
            .erase_all(&[gone], "retention", "again")
            .unwrap()
            .0
            .is_empty());
    });
}

#[test]
fn a_sweep_erases_many_cases_in_short_transactions_skipping_the_held_and_the_gone() {
    for_each_backend(|backend, store| {
        let now = store.now_ms();
        // More cases than one transaction takes, a held one and a gone one among them.
        let ids: Vec<i64> = (0..2 * kyc_store::ERASE_BATCH as u64 + 5)
            .map(|i| new_case(store, 100 + i))
            .collect();
        let (held, gone) = (ids[7], ids[kyc_store::ERASE_BATCH + 1]);
        store.hold(held, now + 60_000).unwrap();
        store.erase(gone, "rita", "ticket 8").unwrap();
        let (erased, mut complete) = store.erase_all(&ids, "retention", "sweep").unwrap();
        // Not complete while something holds the WAL past `ERASURE_WAIT` (on a loaded machine,
        // the checkpointer's own fsync can): the erasures are then finished later, as the
        // desk's `finish_erasures_in_background` does every second.
        for _ in 0..10 {
            if complete {
                break;
            }
            complete = store.finish_erasures().unwrap();
        }
        assert!(complete, "{backend}");
        let erased: Vec<i64> = erased.into_iter().map(|(id, _)| id).collect();
        let expected: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| ![held, gone].contains(id))
            .collect();
        assert_eq!(erased, expected, "{backend}");
        for id in &expected {
            assert!(
                matches!(store.summary(*id), Err(Error::NotFound(_))),
                "{backend}: case {id} is left"
            );
        }
        assert!(
            store.summary(held).is_ok(),
            "{backend}: Ditto ID waits on it"
        );
        assert!(
            matches!(store.verify_audit().unwrap(), Verdict::Intact { .. }),
            "{backend}"
        );
    });
}

#[test]
fn expired_cases_come_in_case_order_after_the_last_one_a_sweep_was_given() {
    for_each_backend(|backend, store| {
        let ids: Vec<i64> = (0..5).map(|i| new_case(store, 200 + i)).collect();
        for &id in &ids[..4] {
            store
                .decide(id, &decision(true, "rita"), true, false)
                .unwrap();
        }
        let later = store.now_ms() + 1;
        assert_eq!(
            store.expired_cases(later, 0, 0, 2).unwrap(),
            ids[..2],
            "{backend}: the oldest first, at most the limit"
        );
        assert_eq!(
            store.expired_cases(later, 0, ids[1], 10).unwrap(),
            ids[2..4],
            "{backend}: after the cursor; the undecided one is not due"
        );
        // A cut-off just after the second oldest final decision makes the first two cases due
        // (and no later one, unless decided in the same millisecond).
        let second = store.final_decision_at_rank(1).unwrap().unwrap();
        let due = store.expired_cases(second + 1, 0, 0, 10).unwrap();
        assert!(due.starts_with(&ids[..2]), "{backend}: {due:?}");
        assert!(
            store.expired_cases(second, 0, 0, 10).unwrap().len() < 2,
            "{backend}"
        );
        assert!(
            store.final_decision_at_rank(3).unwrap().is_some(),
            "{backend}"
        );
        assert_eq!(store.final_decision_at_rank(4).unwrap(), None, "{backend}");
        assert!(
            store
                .expired_cases(later, 60_000, 0, 10)
                .unwrap()
                .is_empty(),
            "{backend}: decided within the period kept"
        );
    });
}
