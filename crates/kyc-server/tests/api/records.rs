//! The records a compliance officer takes away, over real HTTP: the PDF case report, statistics
//! and the decisions CSV, internal notes and escalations, and the audit trail's filters and CSV.

use crate::common;

use crate::compliance::{contains, database_bytes, decided_case, UNICODE_NAMES};
use common::{start, submission};
use kyc_core::bootstrap::DB_FILE;
use kyc_sim::Scenario;
use serde_json::{json, Value};

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
    // Long enough for three decisions to land inside their windows on a loaded 2-core machine;
    // the fourth case waits it out.
    let d = start(|c| c.decision.hold_secs = 5).await;
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
    let today = kyc_domain::time::rfc3339(kyc_store::timefmt::now_ms())[..10].to_string();
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
