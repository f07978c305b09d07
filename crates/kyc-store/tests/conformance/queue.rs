//! The queue's pages on every backend: filters, newest or oldest first, pages after a cursor,
//! and the count a first page gives (a flag's from its own rows).

use super::*;

#[test]
fn the_queue_pages_filters_and_counts() {
    for_each_backend(|backend, store| {
        let ids: Vec<i64> = (1..=5).map(|i| new_case(store, i)).collect();
        store
            .decide(ids[0], &decision(true, "rita"), false, false)
            .unwrap();
        let page = store
            .list(&CaseQuery {
                limit: 2,
                count: true,
                ..CaseQuery::default()
            })
            .unwrap();
        assert_eq!(page.total, Some(5), "{backend}");
        // A first page that holds every match counts them itself, filters and search included.
        for (q, status, want) in [
            (None, None, 5),
            (None, Some("pending"), 4),
            (Some("kyc"), Some("approved"), 1),
        ] {
            let whole = store
                .list(&CaseQuery {
                    q: q.map(str::to_string),
                    status: status.map(str::to_string),
                    limit: 10,
                    count: true,
                    ..CaseQuery::default()
                })
                .unwrap();
            assert_eq!(
                (
                    whole.cases.len(),
                    whole.total,
                    whole.total_capped,
                    whole.next
                ),
                (want, Some(want as u32), false, None),
                "{backend}: {q:?} {status:?}"
            );
        }
        assert_eq!(
            page.cases.iter().map(|c| c.id).collect::<Vec<_>>(),
            [ids[4], ids[3]],
            "{backend}: newest first"
        );
        let next = store
            .list(&CaseQuery {
                limit: 2,
                cursor: page.next.as_deref().map(|n| n.parse().unwrap()),
                ..CaseQuery::default()
            })
            .unwrap();
        assert_eq!(
            next.cases.iter().map(|c| c.id).collect::<Vec<_>>(),
            [ids[2], ids[1]]
        );
        let pending = store
            .list(&CaseQuery {
                status: Some("pending".into()),
                limit: 10,
                ..CaseQuery::default()
            })
            .unwrap();
        assert_eq!(pending.cases.len(), 4, "{backend}");
        assert_eq!(
            pending.cases[0].id, ids[1],
            "{backend}: pending, oldest first"
        );
    });
}

#[test]
fn a_flag_filter_counts_the_cases_that_carry_the_flag() {
    for_each_backend(|backend, store| {
        let flagged = |i: u64, code: &str| {
            let flags = [kyc_domain::flag::Flag::new(
                code,
                kyc_domain::flag::Severity::Warning,
                "test",
            )];
            let sub = testing::submission(&body(i).to_string());
            match store.insert_case(&sub, &flags, 1_764_400_000_000).unwrap() {
                Inserted::New(c) => c.id,
                Inserted::Existing(_) => panic!("a new case expected"),
            }
        };
        let watched: Vec<i64> = [1, 3, 4].map(|i| flagged(i, "watch")).to_vec();
        flagged(2, "other");
        new_case(store, 5);
        let count = |status: Option<&str>| {
            let page = store
                .list(&CaseQuery {
                    flag: Some("watch".into()),
                    status: status.map(str::to_string),
                    limit: 1,
                    count: true,
                    ..CaseQuery::default()
                })
                .unwrap();
            assert!(page.next.is_some(), "{backend}: the count is read apart");
            (page.total, page.total_capped)
        };
        // The flag alone (counted from its own rows), and with another filter.
        assert_eq!(count(None), (Some(3), false), "{backend}");
        assert_eq!(count(Some("pending")), (Some(3), false), "{backend}");
        store
            .decide(watched[0], &decision(false, "rita"), false, false)
            .unwrap();
        assert_eq!(count(Some("pending")), (Some(2), false), "{backend}");
        // An erased case's flag goes with it.
        store.erase(watched[1], "ada", "test").unwrap();
        assert_eq!(count(None), (Some(2), false), "{backend}: after an erasure");
    });
}
