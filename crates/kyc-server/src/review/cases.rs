//! The queue and one case: listing and search, the case, its images, decisions, assignment, notes and escalation, presence, erasure and the PDF report.

use super::*;
use kyc_core::desk::DecisionRequest;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    status: Option<String>,
    requester_id: Option<String>,
    user_id: Option<String>,
    q: Option<String>,
    flag: Option<String>,
    document_type: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    from: Option<String>,
    to: Option<String>,
    answered_by: Option<String>,
    /// An account name, or `me`: the cases assigned to it.
    assignee: Option<String>,
    /// `true`: pending cases with a first approval waiting for a second (four-eyes).
    awaiting_second: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(super) fn date_param(
    v: Option<String>,
    name: &str,
    end_of_day: bool,
) -> Result<Option<i64>, ServerError> {
    match non_empty(v) {
        None => Ok(None),
        Some(t) => kyc_domain::time::parse_ms(&t, end_of_day)
            .map(Some)
            .ok_or_else(|| {
                ServerError::BadRequest(format!("{name}: use YYYY-MM-DD or an RFC 3339 time"))
            }),
    }
}
#[utoipa::path(get, path = "/api/cases", tag = "review", security(("session" = [])), params(ListParams),
    responses((status = 200, body = kyc_domain::case::CasePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_cases(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Value>, ServerError> {
    let status = match p.status.as_deref() {
        None | Some("all") | Some("") => None,
        Some(s @ ("pending" | "approved" | "rejected")) => Some(s.to_string()),
        Some(_) => {
            return Err(ServerError::BadRequest(
                "status: use pending, approved, rejected or all".into(),
            ))
        }
    };
    let cursor = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ServerError::BadRequest("cursor: not a cursor from `next`".into()))?,
        ),
    };
    let answered_by = match non_empty(p.answered_by).as_deref() {
        None => None,
        Some(s @ ("reviewer" | "auto" | "timeout" | "none")) => Some(s.to_string()),
        Some(_) => {
            return Err(ServerError::BadRequest(
                "answered_by: use reviewer, auto, timeout or none".into(),
            ))
        }
    };
    let page =
        st.desk
            .list_seen_by(
                CaseQuery {
                    status,
                    requester_id: non_empty(p.requester_id),
                    user_id: non_empty(p.user_id),
                    q: non_empty(p.q),
                    flag: non_empty(p.flag),
                    document_type: non_empty(p.document_type),
                    from_ms: date_param(p.from, "from", false)?,
                    to_ms: date_param(p.to, "to", true)?,
                    answered_by,
                    assignee: non_empty(p.assignee).map(|a| {
                        if a == "me" {
                            user.name.clone()
                        } else {
                            a
                        }
                    }),
                    awaiting_second: p.awaiting_second.unwrap_or(false),
                    held_at: None,
                    count: false,
                    limit: p.limit.unwrap_or(50),
                    cursor,
                },
                &user.name,
            )
            .await?;
    Ok(Json(
        serde_json::to_value(page).map_err(|e| CoreError::Internal(e.to_string()))?,
    ))
}
#[utoipa::path(get, path = "/api/cases/{id}", tag = "review", security(("session" = [])),
    params(("id" = String, Path, description = "Case id or reference")),
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 404, body = ErrorBody)))]
pub(crate) async fn case_detail(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<Response, ServerError> {
    let detail = st.desk.detail_seen_by(&id, &user.name).await?;
    Ok(Json(detail).into_response())
}
#[utoipa::path(get, path = "/api/cases/{id}/images/{name}", tag = "review", security(("session" = [])),
    params(("id" = String, Path), ("name" = String, Path, description = "selfie, portrait_image, front_page, back_page..."),
        ("original" = Option<bool>, Query, description = "the bytes as sent, as a download")),
    responses((status = 200, description = "JPEG, PNG, WebP and GIF as sent; JPEG 2000 as a PNG for display; a PDF or unknown format as a download (Content-Disposition: attachment)"), (status = 404, body = ErrorBody)))]
pub(crate) async fn case_image(
    State(st): St,
    Reviewer(user): Reviewer,
    Path((id, name)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ImageParams>,
) -> Result<Response, ServerError> {
    let (mime, bytes, download) = st
        .desk
        .image_seen_by(&id, &name, q.original.unwrap_or(false), &user.name)
        .await?;
    let mut resp = ([(header::CONTENT_TYPE, mime)], bytes).into_response();
    if let Some(file) = download {
        // Not shown inline (a PDF, an unknown format, or the original asked for): a download.
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub(crate) struct ImageParams {
    /// The bytes exactly as Ditto ID sent them, as a download.
    original: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    decision: String,
    /// Answer Ditto ID with this user id instead (Ditto ID renames its user to it).
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    comment: String,
}
#[utoipa::path(post, path = "/api/cases/{id}/decision", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already decided")))]
pub(crate) async fn decide(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response, ServerError> {
    let request = DecisionRequest {
        decision: body.decision,
        reasons: body.reasons,
        comment: body.comment,
        link_user_id: body.user_id,
    };
    let detail = st.desk.decide_by(&user, &id, request).await?;
    Ok(Json(detail).into_response())
}
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// The account to assign the case to; null to unassign.
    to: Option<String>,
}

/// Assigns a pending case (a reviewer: take or give back; supervisors and admins: anyone).
#[utoipa::path(post, path = "/api/cases/{id}/assign", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = kyc_domain::case::CaseSummary), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn assign(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<kyc_domain::case::CaseSummary>, ServerError> {
    Ok(Json(st.desk.assign(&id, body.to.as_deref(), &user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    /// The note (sealed at rest; at most 4,000 characters).
    text: String,
}

/// Adds an internal note to a case (anyone who may decide; audited as `case.note_added`).
#[utoipa::path(post, path = "/api/cases/{id}/notes", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = NoteBody,
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn add_note(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Json<kyc_core::view::CaseDetail>, ServerError> {
    Ok(Json(st.desk.add_note(&id, &user, body.text).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalateBody {
    /// The supervisor or admin the case goes to (see `/api/supervisors`).
    to: String,
    /// Why (kept as a note, sealed at rest).
    reason: String,
}

/// Escalates a pending case to a supervisor: assigns it to them and keeps the reason as a note
/// (audited as `case.escalated`).
#[utoipa::path(post, path = "/api/cases/{id}/escalate", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = EscalateBody,
    responses((status = 200, body = kyc_core::view::CaseDetail), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already decided")))]
pub(crate) async fn escalate(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EscalateBody>,
) -> Result<Json<kyc_core::view::CaseDetail>, ServerError> {
    Ok(Json(
        st.desk.escalate(&id, &user, body.to, body.reason).await?,
    ))
}

/// The active supervisors and admins, whom a case can be escalated to.
#[utoipa::path(get, path = "/api/supervisors", tag = "review", security(("session" = [])),
    responses((status = 200, body = Vec<String>)))]
pub(crate) async fn supervisors(
    State(st): St,
    Reviewer(_user): Reviewer,
) -> Result<Json<Vec<String>>, ServerError> {
    Ok(Json(st.desk.supervisors().await?))
}

/// A numeric case id from the path (presence is kept by id).
pub(super) fn numeric_id(id: &str) -> Result<i64, ServerError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ServerError::BadRequest("the case id must be a positive number".into()))
}

/// A heartbeat of a case open in this reviewer's desk: others see "<name> is viewing" until it
/// closes or beats stop for `presence::TTL_MS`.
#[utoipa::path(put, path = "/api/cases/{id}/presence", tag = "review", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 400, body = ErrorBody)))]
pub(crate) async fn present(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    let id = numeric_id(&id)?;
    st.desk.present(id, &user.name);
    Ok(StatusCode::NO_CONTENT)
}

/// The case was closed in this reviewer's desk.
#[utoipa::path(delete, path = "/api/cases/{id}/presence", tag = "review", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 400, body = ErrorBody)))]
pub(crate) async fn absent(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    st.desk.absent(numeric_id(&id)?, &user.name);
    Ok(StatusCode::NO_CONTENT)
}

/// Who has which case open now: `{"<case id>": ["name", ...]}` (also sent as `presence` events).
#[utoipa::path(get, path = "/api/presence", tag = "review", security(("session" = [])),
    responses((status = 200, description = "case id → names of the reviewers viewing it")))]
pub(crate) async fn presence(
    State(st): St,
    Reviewer(_): Reviewer,
) -> Json<kyc_core::presence::Viewers> {
    Json(st.desk.presence().viewers())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EraseBody {
    /// Why (kept in the audit trail: a ticket number, never personal data).
    reason: String,
}

/// Erases a case on request (admins): its key and rows are destroyed; the audit trail keeps ids.
#[utoipa::path(post, path = "/api/cases/{id}/erase", tag = "review", security(("session" = [])),
    params(("id" = String, Path)), request_body = EraseBody,
    responses((status = 200, description = "`{erased: reference, complete: true}`: no copy is left"),
        (status = 202, description = "`{erased: reference, complete: false}`: the case is gone from every query; a reader still holds an older snapshot of the WAL, and the erasure completes (audited as case.erasure_completed) as soon as it lets go"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Ditto ID is still waiting on it")))]
pub(crate) async fn erase(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EraseBody>,
) -> Result<Response, ServerError> {
    let (reference, complete) = st.desk.erase(&id, &user, &body.reason).await?;
    let status = if complete {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(json!({ "erased": reference, "complete": complete })),
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ReportParams {
    /// The reader's clock: minutes east of UTC (JavaScript: `-new Date().getTimezoneOffset()`).
    utc_offset: Option<i32>,
}

/// The PDF case report, as a download (`Content-Disposition: attachment`); audited with the
/// file's SHA-256 (also in `X-Report-SHA256`).
#[utoipa::path(get, path = "/api/cases/{id}/report.pdf", tag = "review", security(("session" = [])),
    params(("id" = String, Path), ("utc_offset" = Option<i32>, Query, description = "times in the report in this offset, minutes east of UTC (-840..840); default UTC")),
    responses((status = 200, content_type = "application/pdf", description = "The case report"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn case_report(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Response, ServerError> {
    let offset = kyc_domain::time::utc_offset(q.utc_offset.unwrap_or(0)).ok_or_else(|| {
        ServerError::BadRequest("utc_offset: minutes east of UTC, from -840 to 840".into())
    })?;
    let (file_name, pdf, sha256) = st.desk.report(&id, &user.name, offset).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::HeaderName::from_static("x-report-sha256"), sha256),
        ],
        pdf,
    )
        .into_response())
}
