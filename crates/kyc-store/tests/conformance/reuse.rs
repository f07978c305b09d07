//! What a new case finds of earlier ones, on every backend: the same document under another user,
//! and the image hashes the reuse is found by, replaced when they are computed anew.

use super::*;

#[test]
fn a_document_seen_under_another_user_is_flagged_on_both_cases() {
    for_each_backend(|backend, store| {
        let first = new_case(store, 1);
        let mut twin = body(1);
        twin["request_info"]["requester_id"] = "twin-request".into();
        twin["request_info"]["user_id"] = "another.person@example.com".into();
        let Inserted::New(second) = insert(store, &twin).unwrap() else {
            panic!("{backend}: a new case expected");
        };
        let codes = |flags: &[kyc_domain::flag::Flag]| {
            flags.iter().map(|f| f.code.clone()).collect::<Vec<_>>()
        };
        assert!(
            codes(&second.flags).contains(&"document_reused".to_string()),
            "{backend}"
        );
        let earlier = store.summary(first).unwrap();
        assert!(
            codes(&earlier.flags).contains(&"document_reused".to_string()),
            "{backend}: flagged back"
        );
        let found = store
            .list(&CaseQuery {
                flag: Some("document_reused".into()),
                limit: 10,
                ..CaseQuery::default()
            })
            .unwrap();
        assert_eq!(
            found.cases.len(),
            2,
            "{backend}: the flag filter finds both"
        );
    });
}

#[test]
fn a_hash_computed_anew_replaces_the_stored_one_and_the_indexes_follow() {
    use kyc_store::rehash::{NewHash, StaleHash};
    for_each_backend(|backend, store| {
        assert!(!store.hashes_were_stale(), "{backend}");
        let first = new_case(store, 1);
        let erased = new_case(store, 2);
        store.erase(erased, "rita", "ticket 8").unwrap();
        assert!(
            store.stale_hashes(0, 10).unwrap().is_empty(),
            "{backend}: new hashes are of the current method"
        );
        let selfie = |case_id| StaleHash {
            case_id,
            image: "selfie".into(),
        };
        let anew = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        store
            .replace_hashes(&[
                (selfie(first), NewHash::Selfie(anew)),
                (selfie(erased), NewHash::Selfie(anew)),
            ])
            .unwrap();
        store.reload_hashes().unwrap();
        // Another user's selfie with the new value finds the first case (the erased one stays
        // erased: nothing was written for it).
        let mut other = body(3);
        other["request_info"]["user_id"] = "another.person@example.com".into();
        let mut sub = testing::submission(&other.to_string());
        sub.selfie_hash = Some(anew);
        let Inserted::New(case) = store.insert_case(&sub, &[], 1_764_400_000_000).unwrap() else {
            panic!("{backend}: a new case expected");
        };
        let reused = case.flags.iter().find(|f| f.code == "selfie_reused");
        let first_ref = store.summary(first).unwrap().reference;
        assert_eq!(
            reused.map(|f| f.cases.clone()),
            Some(vec![first_ref]),
            "{backend}"
        );
    });
}
