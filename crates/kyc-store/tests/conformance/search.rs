//! The search on every backend for texts that are in no reference or UUID: a rare word, a word
//! no case has, a user id, and the beginning of a requester id that is not a UUID.

use super::*;

#[test]
fn a_search_for_a_rare_text_finds_its_few_cases() {
    for_each_backend(|backend, store| {
        let ids: Vec<i64> = (0..5).map(|i| new_case(store, 300 + i)).collect();
        let mut twin = body(400);
        twin["request_info"]["requester_id"] = "Twin-Batch-0001".into();
        let twin_id = match insert(store, &twin).unwrap() {
            Inserted::New(c) => c.id,
            Inserted::Existing(_) => panic!("a new case expected"),
        };
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
