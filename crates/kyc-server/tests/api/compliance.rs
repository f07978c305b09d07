//! Compliance over the HTTP API: personal data encrypted at rest (byte search of the database
//! file and its WAL), erasure on request and by retention (crypto-shredding), assignment.

use crate::common;

use common::{start, submission};
use kyc_core::bootstrap::DB_FILE;
use kyc_core::bootstrap::MASTER_KEY_FILE;
use kyc_sim::Scenario;
use kyc_store::imagefiles::IMAGES_DIR;
use kyc_store::Store;
use serde_json::{json, Value};

/// The database file and its WAL, concatenated (whatever of them exists).
/// Every byte KYC Desk keeps about cases: the database, its WAL and the image files.
pub(crate) fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for name in [DB_FILE.to_string(), format!("{DB_FILE}-wal")] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            out.extend(b);
        }
    }
    every_file(&dir.join(IMAGES_DIR), &mut out);
    out
}

/// The bytes of every file under `dir` (the image files sit in folders by id range).
fn every_file(dir: &std::path::Path, out: &mut Vec<u8>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Posts a simulator case, approves it with a comment naming the holder, returns (id, images).
/// Names in the scripts a report must print as sent (Latvian, Cyrillic, Greek).
pub(crate) const UNICODE_NAMES: &str = "Ņina Ķēniņa, Иван Щербаков, Γιώργος Παπαδόπουλος";

pub(crate) async fn decided_case(
    d: &common::Desk,
    index: u64,
) -> (kyc_sim::Submission, i64, Vec<Vec<u8>>) {
    let sub = submission(Scenario::Clean, index);
    let held = d.post_in_background(&sub.payload);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let (status, detail) = d.get(&format!("/api/cases/{id}")).await;
    assert_eq!(status, 200);
    let mut images = Vec::new();
    for img in detail["images"].as_array().unwrap() {
        let name = img["name"].as_str().unwrap();
        let (status, bytes) = d.get_bytes(&format!("/api/cases/{id}/images/{name}")).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(
            bytes.len() as u64,
            img["size"].as_u64().unwrap(),
            "{name} size"
        );
        images.push(bytes);
    }
    assert!(images.len() >= 3, "document pages, portrait and selfie");
    let comment = format!(
        "Called {} {} back; {UNICODE_NAMES}",
        sub.given_names, sub.surname
    );
    let (status, _) = d
        .decide(id, json!({"decision": "approve", "comment": comment}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(held.await.unwrap()["result"], true);
    (sub, id, images)
}

#[tokio::test]
async fn the_database_holds_no_readable_personal_data() {
    let d = start(|_| {}).await;
    let (sub, id, images) = decided_case(&d, 11).await;
    // The desk shows everything in the clear...
    let (_, detail) = d.get(&format!("/api/cases/{id}")).await;
    assert_eq!(detail["document_number"], sub.document_number);
    assert!(detail["decisions"][0]["comment"]
        .as_str()
        .unwrap()
        .contains(&sub.surname));
    // ...and finds the case by surname, document number and user id (blind index), whole words.
    for q in [
        sub.surname.to_uppercase(),
        sub.document_number.clone(),
        sub.user_id.clone(),
    ] {
        let q = q.replace('+', "%2B");
        let (_, page) = d.get(&format!("/api/cases?status=all&q={q}")).await;
        assert_eq!(page["cases"][0]["id"], id, "search {q}");
    }
    let partial = &sub.document_number[..sub.document_number.len() - 1];
    let (_, page) = d.get(&format!("/api/cases?status=all&q={partial}")).await;
    assert_eq!(
        page["cases"].as_array().unwrap().len(),
        0,
        "no prefix match"
    );

    // The files on disk do not.
    let bytes = database_bytes(&d.dir);
    assert!(bytes.len() > 100_000, "the images are stored");
    let mrz_surname = sub.surname.to_uppercase();
    for needle in [
        sub.surname.as_str(),
        mrz_surname.as_str(),
        sub.given_names.as_str(),
        sub.document_number.as_str(),
        sub.user_id.as_str(),
    ] {
        assert!(
            !contains(&bytes, needle.as_bytes()),
            "{needle:?} found in the database"
        );
    }
    assert!(
        !contains(&bytes, b"JFIF"),
        "a JPEG header found in the database"
    );
    for img in &images {
        assert!(!contains(&bytes, &img[..4]), "an image's first bytes found");
        let mid = img.len() / 2;
        assert!(
            !contains(&bytes, &img[mid..mid + 32]),
            "an image's bytes found"
        );
    }
    d.stop().await;
}

#[tokio::test]
async fn an_erased_case_cannot_be_read_back_even_with_the_master_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = common::start_in(tmp.path(), |_| {}).await;
    let (sub, id, _) = decided_case(&d, 12).await;
    let (_, kept, _) = decided_case(&d, 13).await;
    // What an attacker with the master key would need: the wrapped case key and the ciphertext.
    let db = rusqlite::Connection::open(d.dir.join(DB_FILE)).unwrap();
    let wrapped: Vec<u8> = db
        .query_row(
            "SELECT wrapped FROM case_keys WHERE case_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let (offset, len): (usize, usize) = db
        .query_row(
            "SELECT file_offset, file_len FROM images WHERE case_id = ?1 LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(db);
    let image_file = kyc_store::imagefiles::ImageFiles::beside(&d.dir.join(DB_FILE)).path(id);
    assert!(image_file.starts_with(d.dir.join(IMAGES_DIR)));
    let sealed = std::fs::read(&image_file).unwrap()[offset..offset + len].to_vec();
    assert!(contains(&database_bytes(&d.dir), &wrapped));

    let admin = d.login("ada").await;
    let (status, body) = d
        .post_as(&admin, &format!("/api/cases/{id}/erase"), json!({}))
        .await;
    assert_eq!(status, 400, "a reason is required: {body}");
    let (status, body) = d
        .post_as(
            &admin,
            &format!("/api/cases/{id}/erase"),
            json!({"reason": "DSR ticket 4711"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let reference = body["erased"].as_str().unwrap().to_string();
    assert_eq!(d.get(&format!("/api/cases/{id}")).await.0, 404);
    assert_eq!(
        d.get_bytes(&format!("/api/cases/{id}/images/selfie"))
            .await
            .0,
        404
    );
    let (_, page) = d
        .get(&format!("/api/cases?status=all&q={}", sub.surname))
        .await;
    assert!(page["cases"].as_array().unwrap().is_empty());

    // Neither the wrapped key nor the ciphertext is left in the database file, its WAL or the
    // image files; the other case's images are still there.
    assert!(!image_file.exists(), "the erased case's image file is gone");
    let bytes = database_bytes(&d.dir);
    assert!(!contains(&bytes, &wrapped), "the wrapped case key survived");
    assert!(
        !contains(&bytes, &sealed[..64]),
        "the sealed image survived"
    );

    // The audit trail keeps the id, the reference and the reason, and nothing about the person.
    let auditor = d.login("ada").await;
    let (_, trail) = d.get_as(&auditor, "/api/audit?action=case.erased").await;
    let entry = &trail["entries"][0];
    assert_eq!(entry["case_id"], id);
    assert_eq!(entry["detail"]["reference"], reference);
    assert_eq!(entry["detail"]["reason"], "DSR ticket 4711");
    assert_eq!(entry["actor"], "ada");
    let (_, verify) = d.get_as(&auditor, "/api/audit/verify").await;
    assert_eq!(verify["intact"], true, "{verify}");
    let dir = d.dir.clone();
    d.stop().await;

    // With the master key, the store still opens the other case and knows nothing of this one.
    let key = std::fs::read_to_string(dir.join(MASTER_KEY_FILE)).unwrap();
    let key: [u8; 32] =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key.trim())
            .unwrap()
            .try_into()
            .unwrap();
    let store = Store::open(&dir.join(DB_FILE), kyc_crypto::master::MasterKey::Key(key)).unwrap();
    assert!(store.raw_json(id).is_err());
    assert!(store.image(id, "selfie").is_err());
    assert!(store.raw_json(kept).is_ok(), "the other case is intact");
    assert!(store.image(kept, "selfie").is_ok(), "with its images");
    assert_eq!(store.count().unwrap(), 1);
}

#[tokio::test]
async fn an_erased_number_is_never_given_to_the_next_person() {
    let d = start(|_| {}).await;
    let (_, id, _) = decided_case(&d, 14).await;
    let (_, erased) = d.get(&format!("/api/cases/{id}")).await;
    let erased_reference = erased["reference"].as_str().unwrap().to_string();
    let admin = d.login("ada").await;
    let (status, _) = d
        .post_as(
            &admin,
            &format!("/api/cases/{id}/erase"),
            json!({"reason": "DSR ticket 4712"}),
        )
        .await;
    assert_eq!(status, 200);
    // The newest case is gone; the next, unrelated person gets a number of their own.
    let next = submission(Scenario::Clean, 15);
    let _held = d.post_in_background(&next.payload);
    let case = d.wait_for_case(&next.requester_id).await;
    assert_ne!(case["id"], id);
    assert_ne!(case["reference"], erased_reference.as_str());
    let (_, detail) = d.get(&format!("/api/cases/{}", case["id"])).await;
    let actions: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        !actions
            .iter()
            .any(|a| *a == "case.erased" || *a == "case.decided"),
        "a clean timeline: {actions:?}"
    );
    assert_eq!(actions.first(), Some(&"case.received"));
    d.stop().await;
}

#[tokio::test]
async fn every_look_at_personal_data_is_audited_once_per_opening() {
    let d = start(|c| c.decision.hold_secs = 0).await;
    let sub = submission(Scenario::Clean, 16);
    assert_eq!(d.post(&sub.payload).await.0, 200);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let admin = d.login("ada").await;
    let entries = |actor: &str, action: &str| {
        let path = format!("/api/audit?actor={actor}&action={action}&limit=100");
        let (d, admin) = (&d, &admin);
        async move {
            let (status, page) = d.get_as(admin, &path).await;
            assert_eq!(status, 200, "{page}");
            page["entries"].as_array().unwrap().clone()
        }
    };
    // rita opens the case; the live refreshes and its images are part of that one opening.
    for _ in 0..5 {
        assert_eq!(d.get(&format!("/api/cases/{id}")).await.0, 200);
        for name in ["selfie", "portrait_image", "front_page"] {
            assert_eq!(
                d.get_bytes(&format!("/api/cases/{id}/images/{name}"))
                    .await
                    .0,
                200
            );
        }
    }
    let viewed = entries("rita", "case.viewed").await;
    assert_eq!(viewed.len(), 1, "{viewed:?}");
    assert_eq!(viewed[0]["case_id"], id);
    assert!(entries("rita", "case.image_viewed").await.is_empty());
    // An image fetched without its case open is a look of its own (once while it is looked at).
    for _ in 0..3 {
        let resp = d
            .http
            .get(d.review(&format!("/api/cases/{id}/images/selfie")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let alone = entries("ada", "case.image_viewed").await;
    assert_eq!(alone.len(), 1, "{alone:?}");
    assert_eq!(alone[0]["detail"]["image"], "selfie");
    // A search is one entry per query, its words only as a keyed tag.
    let search = format!("/api/cases?status=all&q={}", sub.surname);
    for _ in 0..3 {
        assert_eq!(d.get(&search).await.0, 200);
    }
    let listed: Vec<Value> = entries("rita", "cases.listed")
        .await
        .into_iter()
        .filter(|e| e["detail"].get("q_tag").is_some())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(!listed[0].to_string().contains(&sub.surname));
    assert!(!listed[0].to_string().contains(&sub.surname.to_lowercase()));
    assert_eq!(listed[0]["detail"]["q_tag"].as_str().unwrap().len(), 32);
    // Another filter is another query.
    assert_eq!(d.get("/api/cases?status=approved").await.0, 200);
    let approved = entries("rita", "cases.listed")
        .await
        .into_iter()
        .filter(|e| e["detail"]["status"] == "approved")
        .count();
    assert_eq!(approved, 1);
    d.stop().await;
}

#[tokio::test]
async fn an_erasure_a_long_reader_delays_is_pending_then_completes_with_no_copy_left() {
    let tmp = tempfile::tempdir().unwrap();
    let d = common::start_in(tmp.path(), |_| {}).await;
    let (_, id, _) = decided_case(&d, 18).await;
    let db = d.dir.join(DB_FILE);
    let wrapped: Vec<u8> = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT wrapped FROM case_keys WHERE case_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    // Another process reading: its snapshot keeps the WAL from being truncated.
    let reader = rusqlite::Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM cases", [], |r| r.get(0))
        .unwrap();
    let admin = d.login("ada").await;
    let (status, body) = d
        .post_as(
            &admin,
            &format!("/api/cases/{id}/erase"),
            json!({"reason": "DSR ticket 4713"}),
        )
        .await;
    assert_eq!(status, 202, "pending, not claimed complete: {body}");
    assert_eq!(body["complete"], false);
    assert_eq!(d.get(&format!("/api/cases/{id}")).await.0, 404);
    let completed = || {
        let (d, admin) = (&d, &admin);
        async move {
            let (_, page) = d
                .get_as(admin, "/api/audit?action=case.erasure_completed")
                .await;
            page["entries"].as_array().unwrap().len()
        }
    };
    assert_eq!(completed().await, 0);
    // The reader lets go: the erasure completes on its own, audited, with no copy left.
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    let mut waited = 0;
    while completed().await == 0 {
        assert!(waited < 100, "the pending erasure never completed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(
        !contains(&database_bytes(&d.dir), &wrapped),
        "the wrapped case key survived in the database or its WAL"
    );
    d.stop().await;
}

#[tokio::test]
async fn retention_erases_decided_cases_only_after_the_period() {
    let d = start(|c| c.decision.hold_secs = 0).await;
    let (_, old, _) = {
        let sub = submission(Scenario::Clean, 14);
        let (status, _) = d.post(&sub.payload).await;
        assert_eq!(status, 200, "answered by the timeout fallback");
        let id = d.wait_for_case(&sub.requester_id).await["id"]
            .as_i64()
            .unwrap();
        let (status, _) = d.decide(id, json!({"decision": "approve"})).await;
        assert_eq!(status, 200);
        (sub, id, ())
    };
    let pending = submission(Scenario::Clean, 15);
    d.post(&pending.payload).await;
    let pending = d.wait_for_case(&pending.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let desk = &d.running.desk;
    let now = kyc_store::timefmt::now_ms();
    assert_eq!(
        desk.sweep_retention(now, 0).await.unwrap(),
        0,
        "0 keeps forever"
    );
    assert_eq!(
        desk.sweep_retention(now + 86_400_000 / 2, 1).await.unwrap(),
        0
    );
    assert_eq!(
        desk.sweep_retention(now + 2 * 86_400_000, 1).await.unwrap(),
        1
    );
    assert_eq!(d.get(&format!("/api/cases/{old}")).await.0, 404);
    assert_eq!(
        d.get(&format!("/api/cases/{pending}")).await.0,
        200,
        "not decided: kept"
    );
    d.stop().await;
}

#[tokio::test]
async fn an_assigned_case_is_decided_by_its_assignee_until_a_supervisor_reassigns_it() {
    let d = start(|_| {}).await;
    for (name, role) in [
        ("rob", kyc_core::users::Role::Reviewer),
        ("sue", kyc_core::users::Role::Supervisor),
    ] {
        d.add_account(name, role);
    }
    let (rob, sue) = (d.login("rob").await, d.login("sue").await);
    let sub = submission(Scenario::Clean, 16);
    let held = d.post_in_background(&sub.payload);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let assign = format!("/api/cases/{id}/assign");
    let decide = format!("/api/cases/{id}/decision");
    let (status, case) = d.post_as(&d.token, &assign, json!({"to": "rita"})).await;
    assert_eq!(
        (status, &case["assignee"]),
        (200, &json!("rita")),
        "rita takes it"
    );
    let (status, _) = d.post_as(&rob, &assign, json!({"to": "rob"})).await;
    assert_eq!(status, 403, "rob cannot take rita's case");
    let (status, body) = d
        .post_as(&rob, &decide, json!({"decision": "approve"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("assigned_elsewhere"))
    );
    let (status, _) = d.post_as(&sue, &assign, json!({"to": "nobody-here"})).await;
    assert_eq!(status, 400, "unknown account");
    let (status, case) = d.post_as(&sue, &assign, json!({"to": "rob"})).await;
    assert_eq!((status, &case["assignee"]), (200, &json!("rob")));
    let (status, _) = d
        .post_as(&d.token, &decide, json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 409, "now rita may not");
    let (status, _) = d
        .post_as(&rob, &decide, json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(held.await.unwrap()["result"], true);
    let (_, detail) = d.get(&format!("/api/cases/{id}")).await;
    let actions: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "case.assigned").count(), 2);
    d.stop().await;
}
