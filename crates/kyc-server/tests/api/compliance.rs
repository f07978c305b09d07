//! Compliance over the HTTP API: personal data encrypted at rest (byte search of the database
//! file and its WAL), erasure on request and by retention (crypto-shredding), assignment.

use crate::common;

use common::{start, submission};
use kyc_core::bootstrap::MASTER_KEY_FILE;
use kyc_core::imagefiles::IMAGES_DIR;
use kyc_core::store::{Store, DB_FILE};
use kyc_sim::Scenario;
use serde_json::{json, Value};

/// The database file and its WAL, concatenated (whatever of them exists).
/// Every byte KYC Desk keeps about cases: the database, its WAL and the image files.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for name in [DB_FILE.to_string(), format!("{DB_FILE}-wal")] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            out.extend(b);
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join(IMAGES_DIR)) {
        for entry in entries {
            out.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Posts a simulator case, approves it with a comment naming the holder, returns (id, images).
/// Names in the scripts a report must print as sent (Latvian, Cyrillic, Greek).
const UNICODE_NAMES: &str = "Ņina Ķēniņa, Иван Щербаков, Γιώργος Παπαδόπουλος";

async fn decided_case(d: &common::Desk, index: u64) -> (kyc_sim::Submission, i64, Vec<Vec<u8>>) {
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
    let image_file = d.dir.join(IMAGES_DIR).join(format!("{id}.sealed"));
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
    let now = kyc_core::timefmt::now_ms();
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

/// All text of a PDF, as a PDF text extractor reads it.
fn pdf_text(bytes: &[u8]) -> String {
    if let Ok(dir) = std::env::var("KYC_REPORT_DUMP") {
        std::fs::write(format!("{dir}/report.pdf"), bytes).unwrap();
    }
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf can read");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert!(!pages.is_empty());
    doc.extract_text(&pages).expect("extractable text")
}

#[tokio::test]
async fn the_pdf_report_holds_the_case_its_decision_and_images() {
    let d = start(|_| {}).await;
    let (sub, id, images) = decided_case(&d, 17).await;
    let (status, _) = d
        .post_as(
            &d.token,
            &format!("/api/cases/{id}/notes"),
            json!({"text": "Phoned the branch: genuine"}),
        )
        .await;
    assert_eq!(status, 200);
    // The reader's clock two hours east of UTC.
    let resp = d
        .http
        .get(d.review(&format!("/api/cases/{id}/report.pdf?utc_offset=120")))
        .bearer_auth(&d.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let sha256 = resp.headers()["x-report-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    let pdf = resp.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    use sha2::Digest;
    assert_eq!(
        sha256,
        hex::encode(sha2::Sha256::digest(&pdf)),
        "the header is the file's SHA-256"
    );
    let (_, detail) = d.get(&format!("/api/cases/{id}")).await;
    let reference = detail["reference"].as_str().unwrap();
    assert!(
        disposition.contains(&format!("{reference}.pdf")),
        "{disposition}"
    );
    let text = pdf_text(&pdf);
    assert!(text.contains(reference), "{text}");
    assert!(text.contains("Approved by rita"), "{text}");
    // Local time with its zone, human labels, the note, page numbers, the chain head.
    let flowing0 = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flowing0.contains("UTC+02:00"), "{text}");
    assert!(flowing0.contains("Phoned the branch: genuine"), "the note");
    assert!(
        flowing0.contains("Case decided"),
        "the timeline, labelled: {text}"
    );
    let front = flowing0.find("Document front").expect("front labelled");
    if let Some(back) = flowing0.find("Document back") {
        assert!(front < back, "the front before the back");
    }
    let pages = lopdf::Document::load_mem(&pdf).unwrap().get_pages().len();
    assert!(
        flowing0.contains(&format!("page 1 / {pages}"))
            && flowing0.contains(&format!("page {pages} / {pages}")),
        "{text}"
    );
    assert!(flowing0.contains("Chain head entry"), "{text}");
    assert!(text.contains("Ditto ID answer"));
    assert!(text.contains("Face match"));
    // Every name exactly as sent: the report embeds a Unicode font.
    assert!(text.contains(&sub.surname), "{} in {text}", sub.surname);
    let flowing = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flowing.contains(UNICODE_NAMES), "{text}");
    // A signed checkpoint of the audit chain, taken as the report was made.
    assert!(
        flowing.contains("Signed audit checkpoint #") && flowing.contains("kyc-desk audit verify"),
        "{text}"
    );
    // The images are embedded as they are (JPEG, DCT) and the report is audited.
    for img in &images {
        assert!(contains(&pdf, &img[img.len() / 2..img.len() / 2 + 32]));
    }
    let (_, detail) = d.get(&format!("/api/cases/{id}")).await;
    let exported = detail["timeline"].as_array().unwrap().iter().any(|e| {
        e["action"] == "case.report_exported"
            && e["actor"] == "rita"
            && e["detail"]["sha256"] == sha256.as_str()
    });
    assert!(exported, "audited with the file's SHA-256");
    assert_eq!(d.get("/api/cases/999999/report.pdf").await.0, 404);
    let (status, body) = d
        .get(&format!("/api/cases/{id}/report.pdf?utc_offset=2000"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("utc_offset"),
        "{body}"
    );
    d.stop().await;
}

#[tokio::test]
async fn statistics_and_the_decisions_csv_count_what_happened() {
    let d = start(|c| c.decision.hold_secs = 2).await;
    for (name, role) in [
        ("sam", kyc_core::users::Role::Supervisor),
        ("audrey", kyc_core::users::Role::Auditor),
    ] {
        d.add_account(name, role);
    }
    let admin = d.login("ada").await;
    let mut ids = Vec::new();
    let mut held = Vec::new();
    for i in 0..4 {
        let sub = submission(Scenario::Clean, 30 + i);
        held.push(d.post_in_background(&sub.payload));
        ids.push(
            d.wait_for_case(&sub.requester_id).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let decide = format!("/api/cases/{}/decision", ids[0]);
    assert_eq!(
        d.post_as(&d.token, &decide, json!({"decision": "approve"}))
            .await
            .0,
        200
    );
    let decide = format!("/api/cases/{}/decision", ids[1]);
    let reject = json!({"decision": "reject", "reasons": ["poor_image_quality"]});
    assert_eq!(d.post_as(&d.token, &decide, reject).await.0, 200);
    let decide = format!("/api/cases/{}/decision", ids[2]);
    assert_eq!(
        d.post_as(&admin, &decide, json!({"decision": "approve"}))
            .await
            .0,
        200
    );
    // ids[3] is left alone: the timeout fallback answers it.
    for h in held {
        h.await.unwrap();
    }

    let sam = d.login("sam").await;
    let get_as = |token: &str, path: &str| d.http.get(d.review(path)).bearer_auth(token).send();
    assert_eq!(get_as(&d.token, "/api/stats").await.unwrap().status(), 403);
    let stats: Value = get_as(&sam, "/api/stats")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["received"], 4, "{stats}");
    assert_eq!(stats["approved"], 2);
    assert_eq!(stats["rejected"], 1);
    assert_eq!(stats["pending"], 1);
    assert_eq!(stats["timeouts"], 1);
    let rate = stats["approval_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9);
    assert!(stats["median_secs"].as_f64().unwrap() >= 0.0);
    assert!(stats["p90_secs"].as_f64().unwrap() >= stats["median_secs"].as_f64().unwrap());
    let days = stats["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    assert_eq!(days.last().unwrap()["received"], 4);
    let by: Vec<(String, u64)> = stats["by_reviewer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["decided"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by, vec![("rita".to_string(), 2), ("ada".to_string(), 1)]);
    let bad = get_as(&sam, "/api/stats?from=2026-02-30").await.unwrap();
    assert_eq!(bad.status(), 400);

    let auditor = d.login("audrey").await;
    assert_eq!(
        get_as(&d.token, "/api/exports/decisions.csv")
            .await
            .unwrap()
            .status(),
        403
    );
    let resp = get_as(&auditor, "/api/exports/decisions.csv")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-export-rows"], "3");
    let checkpoint = resp.headers()["x-kyc-desk-audit-checkpoint"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(checkpoint.starts_with("audit checkpoint #"), "{checkpoint}");
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    // The file ends with the signed checkpoint taken after the export's own audit entry.
    assert_eq!(lines[4], format!("# {checkpoint}"));
    assert!(lines[0].starts_with("decided_at,reference,requester_id,user_id,decision"));
    assert!(lines
        .iter()
        .any(|l| l.contains(",reject,") && l.contains("poor_image_quality")));
    assert_eq!(lines.iter().filter(|l| l.contains(",rita,")).count(), 2);
    let (_, trail) = {
        let r = get_as(&auditor, "/api/audit?action=export.decisions")
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(trail["entries"][0]["detail"]["rows"], 3);
    d.stop().await;
}

/// Notes and escalation: a reviewer's note is kept sealed (the text is nowhere in the files),
/// shown with the case and named by its audit entry; an escalation assigns the case to a
/// supervisor with the reason as a note; bad input is refused with a clear error, auditors may do
/// neither, and both go with the case on erasure.
#[tokio::test]
async fn notes_are_sealed_audited_and_an_escalation_assigns_a_supervisor() {
    let d = start(|_| {}).await;
    d.add_account("otto", kyc_core::users::Role::Auditor);
    let sub = submission(Scenario::Clean, 61);
    let held = d.post_in_background(&sub.payload);
    let id = d.wait_for_case(&sub.requester_id).await["id"]
        .as_i64()
        .unwrap();
    let secret = "Zebulon-Quartzfield called from an unknown number";
    let (status, detail) = d
        .post_as(
            &d.token,
            &format!("/api/cases/{id}/notes"),
            json!({ "text": format!("  {secret}  ") }),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    let notes = detail["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["text"], secret, "kept trimmed");
    assert_eq!(
        (notes[0]["kind"].as_str(), notes[0]["by"].as_str()),
        (Some("note"), Some("rita"))
    );
    let added = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "case.note_added")
        .expect("audited");
    assert_eq!(added["detail"]["note"], notes[0]["id"]);
    assert!(
        !added.to_string().contains("Zebulon"),
        "the trail names the note, never its text"
    );
    assert!(
        !contains(&database_bytes(&d.dir), b"Zebulon-Quartzfield"),
        "sealed at rest"
    );

    // Refusals, each a 4xx with a JSON body naming the problem.
    for (path, body, want, says) in [
        ("notes", json!({"text": "   "}), 400, "text"),
        ("notes", json!({"text": "x".repeat(4001)}), 400, "4000"),
        ("notes", json!({"note": "wrong field"}), 400, "note"),
        (
            "escalate",
            json!({"to": "rita", "reason": "look"}),
            400,
            "supervisor",
        ),
        (
            "escalate",
            json!({"to": "nobody", "reason": "look"}),
            400,
            "supervisor",
        ),
        (
            "escalate",
            json!({"to": "ada", "reason": ""}),
            400,
            "reason",
        ),
    ] {
        let (status, body) = d
            .post_as(&d.token, &format!("/api/cases/{id}/{path}"), body)
            .await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap_or("").contains(says),
            "{path}: {body}"
        );
    }
    let otto = d.login("otto").await;
    let (status, body) = d
        .post_as(
            &otto,
            &format!("/api/cases/{id}/notes"),
            json!({"text": "auditor"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, names) = d.get("/api/supervisors").await;
    assert_eq!((status, names), (200, json!(["ada"])));

    // Escalated: assigned to ada, the reason a note, audited, and heard by open desks.
    let mut events = d.running.desk.subscribe();
    let (status, detail) = d
        .post_as(
            &d.token,
            &format!("/api/cases/{id}/escalate"),
            json!({"to": "ada", "reason": "Document looks re-laminated"}),
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["assignee"], "ada");
    let last = detail["notes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["escalated_to"].as_str()),
        (Some("escalation"), Some("ada"))
    );
    assert!(detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "case.escalated" && e["detail"]["to"] == "ada"));
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.case.id, event.case.assignee.as_deref()),
        (id, Some("ada"))
    );
    // Now ada's: rita's decision is refused, ada decides.
    let (status, _) = d.decide(id, json!({"decision": "approve"})).await;
    assert_eq!(status, 409);
    let ada = d.login("ada").await;
    let (status, body) = d
        .post_as(
            &ada,
            &format!("/api/cases/{id}/decision"),
            json!({"decision": "approve", "comment": "checked the laminate"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    held.await.unwrap();
    let (status, body) = d
        .post_as(
            &d.token,
            &format!("/api/cases/{id}/escalate"),
            json!({"to": "ada", "reason": "late"}),
        )
        .await;
    assert_eq!(status, 409, "a decided case is not escalated: {body}");
    let (status, _) = d
        .post_as(
            &d.token,
            &format!("/api/cases/{id}/notes"),
            json!({"text": "A note after the decision"}),
        )
        .await;
    assert_eq!(status, 200, "notes are kept on decided cases too");

    // Erased with the case.
    let (status, body) = d
        .post_as(
            &ada,
            &format!("/api/cases/{id}/erase"),
            json!({"reason": "data-subject request"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let left: i64 = {
        let c = rusqlite::Connection::open(d.dir.join(DB_FILE)).unwrap();
        c.query_row("SELECT count(*) FROM notes WHERE case_id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert_eq!(left, 0);
}

/// The audit page names each entry's case by reference (an erased one too), filters by date and
/// case, and exports what it shows as CSV (oldest first, audited, formula cells neutralised).
#[tokio::test]
async fn the_audit_trail_filters_by_date_and_case_and_exports_csv() {
    let d = start(|c| c.decision.hold_secs = 0).await;
    let admin = d.login("ada").await;
    let mut refs = Vec::new();
    for i in 0..2 {
        let sub = submission(Scenario::Clean, 70 + i);
        d.post(&sub.payload).await;
        let c = d.wait_for_case(&sub.requester_id).await;
        refs.push((
            c["id"].as_i64().unwrap(),
            c["reference"].as_str().unwrap().to_string(),
        ));
    }
    let (first_id, first_ref) = refs[0].clone();
    // The queue's first page says how many cases match ("N of M").
    let (_, list) = d.get("/api/cases?status=all&limit=1").await;
    assert_eq!(
        (list["total"].as_u64(), list["total_capped"].as_bool()),
        (Some(2), Some(false)),
        "{list}"
    );
    let (_, list) = d.get(&format!("/api/cases?status=all&q={first_ref}")).await;
    assert_eq!(list["total"], 1, "{list}");
    let page = |q: String| {
        let (d, admin) = (&d, admin.clone());
        async move { d.get_as(&admin, &format!("/api/audit?{q}")).await }
    };
    let (status, body) = page(format!("case={first_ref}")).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries
            .iter()
            .all(|e| e["case_id"] == first_id && e["reference"] == first_ref.as_str()),
        "{body}"
    );
    let today = kyc_core::timefmt::rfc3339(kyc_core::timefmt::now_ms())[..10].to_string();
    let (_, body) = page(format!("from={today}&to={today}")).await;
    assert!(
        !body["entries"].as_array().unwrap().is_empty(),
        "today's entries"
    );
    let (_, body) = page("from=2001-01-01&to=2001-01-31".into()).await;
    assert_eq!(body["entries"], json!([]), "nothing in 2001");
    for bad in ["from=yesterday", "to=2026-13-01", "case=KYC-0000-999999"] {
        let (status, body) = page(bad.into()).await;
        assert!(status == 400 || status == 404, "{bad}: {status} {body}");
        assert!(body["message"].is_string(), "{bad}: {body}");
    }
    // Erased: the entries keep naming the case by its reference.
    let (status, _) = d
        .post_as(
            &admin,
            &format!("/api/cases/{first_id}/erase"),
            json!({"reason": "request"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = page("action=case.erased".into()).await;
    assert_eq!(
        body["entries"][0]["reference"],
        first_ref.as_str(),
        "{body}"
    );

    // The CSV: what the filter selects, oldest first, and the export is audited.
    let resp = d
        .http
        .get(d.review(&format!("/api/audit/export.csv?case={}", refs[1].1)))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let mut lines = csv.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(
        lines.next(),
        Some("id,at,actor,action,case_id,reference,detail")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty(), "{csv}");
    assert!(rows.iter().all(|r| r.contains(&refs[1].1)), "{csv}");
    assert!(rows[0].contains("case.received"), "oldest first: {csv}");
    let (_, body) = page("action=export.audit".into()).await;
    assert_eq!(
        body["entries"][0]["actor"], "ada",
        "the export is audited: {body}"
    );
    // Reviewers read neither.
    let (status, _) = d.get("/api/audit/export.csv").await;
    assert_eq!(status, 403);
    d.stop().await;
}
