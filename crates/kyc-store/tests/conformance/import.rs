//! Many cases in one transaction (`Store::import`), on every backend: stored and decided as one
//! by one, the later cases finding the earlier ones' hashes, and nothing kept of a failed batch.

use super::*;
use kyc_store::import::{Import, Then};

/// Person `i`'s selfie hash (the placeholder pictures are all alike: each person gets its own).
fn selfie_of(i: u64) -> u128 {
    u128::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
}

fn import_of(i: u64, user: &str, then: Then) -> Import {
    let mut b = body(i);
    b["request_info"]["user_id"] = user.into();
    let mut sub = testing::submission(&b.to_string());
    sub.selfie_hash = Some(selfie_of(i));
    Import {
        sub,
        flags: vec![],
        received_at_ms: 1_764_400_000_000,
        then,
    }
}

#[test]
fn a_batch_is_stored_decided_and_assigned_as_one_and_a_failed_batch_leaves_nothing() {
    for_each_backend(|backend, store| {
        store
            .insert_account("system", "rob", Role::Reviewer, "$hash", false)
            .unwrap();
        let mut twin = import_of(1, "someone.else@example.com", Then::Nothing);
        twin.sub.requester_id = "twin-request".into();
        let ids = store
            .import(&[
                import_of(1, "first@example.com", Then::Nothing),
                import_of(
                    2,
                    "second@example.com",
                    Then::Decide {
                        decision: decision(false, "rob"),
                        four_eyes: false,
                    },
                ),
                import_of(
                    3,
                    "third@example.com",
                    Then::Assign {
                        to: "rob".into(),
                        by: "ada".into(),
                    },
                ),
                twin,
            ])
            .unwrap();
        assert_eq!(ids.len(), 4, "{backend}");
        let [first, second, third, fourth] = [0, 1, 2, 3].map(|i| store.summary(ids[i]).unwrap());
        assert_eq!(first.status, "pending", "{backend}");
        assert_eq!(second.status, "rejected", "{backend}");
        assert_eq!(third.assignee.as_deref(), Some("rob"), "{backend}");
        // The twin found the first case of its own batch by its selfie's hash.
        let reused = fourth.flags.iter().find(|f| f.code == "selfie_reused");
        assert_eq!(
            reused.map(|f| f.cases.clone()),
            Some(vec![first.reference.clone()]),
            "{backend}"
        );
        let before = store.count().unwrap();
        // A batch whose last case cannot be assigned (no such account): none of it is kept.
        let failed = store.import(&[
            import_of(5, "fifth@example.com", Then::Nothing),
            import_of(
                6,
                "sixth@example.com",
                Then::Assign {
                    to: "nobody".into(),
                    by: "ada".into(),
                },
            ),
        ]);
        assert!(
            matches!(failed, Err(Error::BadRequest(_))),
            "{backend}: {failed:?}"
        );
        assert_eq!(store.count().unwrap(), before, "{backend}");
        // Nor is it in the indexes: once another case has taken the failed one's number, another
        // user's copy of person 5's selfie still finds nobody.
        for (i, user) in [
            (99, "an.unrelated@example.com"),
            (5, "a.copycat@example.com"),
        ] {
            let c = import_of(i, user, Then::Nothing);
            let Inserted::New(case) = store.insert_case(&c.sub, &[], c.received_at_ms).unwrap()
            else {
                panic!("{backend}: a new case expected");
            };
            assert!(
                !case.flags.iter().any(|f| f.code == "selfie_reused"),
                "{backend}: {:?}",
                case.flags
            );
        }
    });
}
