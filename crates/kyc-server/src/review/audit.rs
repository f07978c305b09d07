//! The audit trail: pages by filter, its CSV export and its verification.

use super::exports::csv_body;
use super::*;

#[derive(Deserialize)]
pub(crate) struct AuditParams {
    before: Option<i64>,
    limit: Option<u32>,
    actor: Option<String>,
    action: Option<String>,
    /// YYYY-MM-DD (UTC days, both included).
    from: Option<String>,
    to: Option<String>,
    /// A case id or reference.
    case: Option<String>,
}

/// The audit filter of a page or an export, its dates and case checked.
pub(crate) async fn audit_filter(
    st: &ReviewState,
    p: &AuditParams,
) -> Result<AuditFilter, ServerError> {
    let day = |v: &Option<String>, name: &str, end: bool| -> Result<Option<i64>, ServerError> {
        match non_empty(v.clone()) {
            None => Ok(None),
            Some(t) => kyc_domain::time::parse_ms(&t, end)
                .filter(|_| t.trim().len() == 10)
                .map(Some)
                .ok_or_else(|| ServerError::BadRequest(format!("{name}: use YYYY-MM-DD"))),
        }
    };
    let case_id = match non_empty(p.case.clone()) {
        None => None,
        Some(key) => Some(st.desk.resolve(key).await?),
    };
    Ok(AuditFilter {
        actor: non_empty(p.actor.clone()),
        action: non_empty(p.action.clone()),
        from_ms: day(&p.from, "from", false)?,
        to_ms: day(&p.to, "to", true)?,
        case_id,
    })
}

/// The whole audit trail, newest first (auditors and admins); `next` pages further back.
#[utoipa::path(get, path = "/api/audit", tag = "review", security(("session" = [])),
    params(("before" = Option<i64>, Query), ("limit" = Option<u32>, Query), ("actor" = Option<String>, Query), ("action" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC)"), ("to" = Option<String>, Query, description = "YYYY-MM-DD (UTC), included"),
        ("case" = Option<String>, Query, description = "a case id or reference")),
    responses((status = 200, description = "`{entries: [AuditEntry], next}`"), (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_trail(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<Value>, ServerError> {
    let filter = audit_filter(&st, &p).await?;
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let entries = st.desk.audit_page(&user, filter, p.before, limit).await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next": next })))
}

/// The audit trail as CSV, oldest first, filtered like the page (auditors and admins); the export
/// is itself audited, and the file ends with a signed checkpoint of the chain's head.
#[utoipa::path(get, path = "/api/audit/export.csv", tag = "review", security(("session" = [])),
    params(("actor" = Option<String>, Query), ("action" = Option<String>, Query),
        ("from" = Option<String>, Query, description = "YYYY-MM-DD (UTC)"), ("to" = Option<String>, Query, description = "YYYY-MM-DD (UTC), included"),
        ("case" = Option<String>, Query, description = "a case id or reference")),
    responses((status = 200, content_type = "text/csv", description = "id, at, actor, action, case_id, reference, detail (JSON)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn export_audit(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Response, ServerError> {
    let filter = audit_filter(&st, &p).await?;
    let noted = json!({"from": p.from, "to": p.to, "actor": filter.actor, "action": filter.action, "case": filter.case_id});
    let export = st.desk.export_audit(&user, filter, noted).await?;
    let body = csv_body("audit", export.checkpoint, export.write);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"kyc-audit-trail.csv\"".to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Checks the audit trail's hash chain now (auditors and admins).
#[utoipa::path(get, path = "/api/audit/verify", tag = "review", security(("session" = [])),
    responses((status = 200, description = "`{intact: true, entries, checkpoints, last_checkpoint}` or `{intact: false, broken_at, reason, checkpoints}`: the chain and every signed checkpoint in `[audit] checkpoint_dir`"), (status = 403, body = ErrorBody)))]
pub(crate) async fn audit_verify(
    State(st): St,
    Reviewer(user): Reviewer,
) -> Result<Json<Value>, ServerError> {
    let (verdict, checkpoints, last) = st.desk.verify_audit(&user).await?;
    let last =
        last.map(|c| json!({"entry_id": c.entry_id, "hash": c.hash, "at": c.at, "line": c.line()}));
    Ok(Json(match verdict {
        kyc_domain::audit::Verdict::Intact { entries } => {
            json!({"intact": true, "entries": entries, "checkpoints": checkpoints, "last_checkpoint": last})
        }
        kyc_domain::audit::Verdict::Broken { id, reason } => {
            json!({"intact": false, "broken_at": id, "reason": reason, "checkpoints": checkpoints})
        }
    }))
}
