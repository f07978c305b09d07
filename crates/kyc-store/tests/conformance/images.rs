//! A case as a reviewer opens it, by its id or its reference, on every backend: an image read in
//! one statement ([`Store::image_of`]) and the summary with the payload in one
//! ([`kyc_store::Snapshot::case_of`]); a missing case and a missing image are told apart.

use super::*;

#[test]
fn an_image_is_read_by_its_cases_id_or_reference_as_it_was_sent() {
    for_each_backend(|backend, store| {
        new_case(store, 1);
        let sent = testing::submission(&body(2).to_string()).images;
        let id = new_case(store, 2);
        let reference = store.summary(id).unwrap().reference;
        assert!(sent.len() > 1, "{backend}: a case with several images");
        let listed = store.images(id).unwrap();
        for image in &sent {
            let info = listed.iter().find(|i| i.name == image.name).unwrap();
            for key in [id.to_string(), reference.clone()] {
                let (of, mime, bytes) = store.image_of(&key, &image.name).unwrap();
                assert_eq!(of, id, "{backend}: {key}");
                assert_eq!(mime, info.mime, "{backend}: {key} {}", image.name);
                assert!(bytes == image.bytes, "{backend}: {key} {}", image.name);
            }
        }
        let missing = store.image_of("999999", &sent[0].name);
        assert!(
            matches!(&missing, Err(Error::NotFound(k)) if k == "999999"),
            "{backend}: {missing:?}"
        );
        let missing = store.image_of(&reference, "no-such-image");
        let want = format!("{id}/images/no-such-image");
        assert!(
            matches!(&missing, Err(Error::NotFound(k)) if *k == want),
            "{backend}: {missing:?}"
        );
    });
}

#[test]
fn a_case_opens_by_its_id_or_reference_with_its_payload() {
    for_each_backend(|backend, store| {
        new_case(store, 1);
        let id = new_case(store, 2);
        let summary = store.summary(id).unwrap();
        let payload = store.payload_json(id).unwrap();
        let want = format!("{:?}", (&summary, &payload.0, &payload.1));
        for key in [id.to_string(), summary.reference.clone()] {
            let got = store
                .snapshot(|s| {
                    s.case_of(&key)
                        .map(|(c, raw, model)| format!("{:?}", (&c, &raw, &model)))
                })
                .unwrap();
            assert_eq!(got, want, "{backend}: {key}");
        }
        let missing = store.snapshot(|s| s.case_of("KYC-2026-999999"));
        assert!(
            matches!(&missing, Err(Error::NotFound(k)) if k == "KYC-2026-999999"),
            "{backend}: {missing:?}"
        );
    });
}
