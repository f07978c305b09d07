//! The search on every backend, and on PostgreSQL under a language's collation: a reference and
//! its beginning, whole words, and texts that are in no reference or UUID (a rare word, a word no
//! case has, a user id, the beginning of a requester id that is not a UUID).

use super::*;

/// Every backend, then PostgreSQL under an en-US collation.
fn for_each_search_backend(check: impl Fn(&str, &Store)) {
    for_each_backend(&check);
    for_each_of(COLLATED, &check);
}

#[test]
fn a_search_finds_a_reference_its_beginning_and_whole_words() {
    for_each_search_backend(|backend, store| {
        let ids: Vec<i64> = (1..=5).map(|i| new_case(store, i)).collect();
        // A reference, or its beginning, in any case: every case whose reference starts so.
        let reference = store.summary(ids[2]).unwrap().reference;
        for (q, want) in [
            (reference.clone(), vec![ids[2]]),
            (reference.to_lowercase(), vec![ids[2]]),
            (reference[..reference.len() - 1].to_string(), ids.clone()),
        ] {
            let mut want = want;
            want.sort();
            assert_eq!(search_ids(store, &q), want, "{backend}: search {q:?}");
        }
        // Part of every reference's prefix, a text too short for a trigram, or one with no word
        // in it (punctuation only: a search, not an error): every case whose reference or
        // requester id holds it.
        for q in ["kyc", "KYC-2", "-"] {
            assert_eq!(
                search_ids(store, q).len() as i64,
                store.count().unwrap(),
                "{backend}: search {q:?}"
            );
        }
        // Names match by whole words: every word searched must be one of the case's, in any
        // order, a word said twice counting once.
        let name = store.summary(ids[2]).unwrap().holder_name.unwrap();
        let words: Vec<&str> = name.split_whitespace().collect();
        assert!(words.len() >= 2, "{name}");
        let (first, last) = (words[0], words[words.len() - 1]);
        for (q, found) in [
            (last.to_string(), true),
            (format!("{last} {first}"), true),
            (format!("{last} {last}"), true),
            (format!("{first} nosuchword"), false),
            (last.chars().skip(1).collect::<String>(), false),
        ] {
            let hit = search_ids(store, &q).contains(&ids[2]);
            assert_eq!(hit, found, "{backend}: search {q:?} in {name:?}");
        }
    });
}

#[test]
fn a_search_for_a_rare_text_finds_its_few_cases() {
    for_each_search_backend(|backend, store| {
        let ids: Vec<i64> = (0..5).map(|i| new_case(store, 300 + i)).collect();
        let mut twin = body(400);
        twin["request_info"]["requester_id"] = "Twin-Batch-0001".into();
        let twin_id = match insert(store, &twin).unwrap() {
            Inserted::New(c) => c.id,
            Inserted::Existing(_) => panic!("a new case expected"),
        };
        // The same beginning in other letter case: a range of the index, as typed, so not found
        // (under a language's collation a plain range would hold it).
        let mut lower = body(401);
        lower["request_info"]["requester_id"] = "twin-batch-0002".into();
        insert(store, &lower).unwrap();
        let found = |q: &str| search_ids(store, q);
        let summary = store.summary(ids[2]).unwrap();
        let surname = summary
            .holder_name
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .to_string();
        assert!(found(&surname).contains(&ids[2]), "{backend}: {surname}");
        assert!(
            found("Zyxwvutsr").is_empty(),
            "{backend}: a word no case has"
        );
        assert_eq!(found(&summary.user_id), [ids[2]], "{backend}: a user id");
        assert_eq!(
            found("Twin-Batch"),
            [twin_id],
            "{backend}: a requester id's beginning"
        );
    });
}
