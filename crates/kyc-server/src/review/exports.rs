//! Statistics and the decisions CSV, and the streaming of CSV bodies both exports share.

use super::*;

#[derive(Deserialize)]
pub(crate) struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// `from`..=`to` as dates (default: the last 30 days) and as `[from_ms, to_ms)`.
pub(super) fn date_range(
    p: RangeParams,
    now_ms: i64,
) -> Result<(time::Date, time::Date, i64, i64), ServerError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let parse = |v: Option<String>, name: &str| -> Result<Option<time::Date>, ServerError> {
        match non_empty(v) {
            None => Ok(None),
            Some(t) => time::Date::parse(t.trim(), &fmt)
                .map(Some)
                .map_err(|_| ServerError::BadRequest(format!("{name}: use YYYY-MM-DD"))),
        }
    };
    let to = parse(p.to, "to")?.unwrap_or_else(|| kyc_domain::time::date_of(now_ms));
    let from = parse(p.from, "from")?.unwrap_or(to - time::Duration::days(29));
    if from > to || (to - from).whole_days() > 3660 {
        return Err(ServerError::BadRequest(
            "from, to: from must not be after to, and the range at most ten years".into(),
        ));
    }
    let ms = |d: time::Date| d.midnight().assume_utc().unix_timestamp() * 1000;
    Ok((from, to, ms(from), ms(to) + 86_400_000))
}

/// Statistics over the cases received in a date range (supervisors, admins, auditors).
#[utoipa::path(get, path = "/api/stats", tag = "review", security(("session" = [])),
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD, default 29 days before `to`"), ("to" = Option<String>, Query, description = "YYYY-MM-DD, default today (UTC)")),
    responses((status = 200, body = kyc_core::stats::Stats), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn statistics(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> Result<Json<kyc_core::stats::Stats>, ServerError> {
    let (from, to, from_ms, to_ms) = date_range(p, st.desk.now_ms())?;
    let stats = st
        .desk
        .statistics(&user, (from, to), (from_ms, to_ms))
        .await?;
    Ok(Json(stats))
}

/// The decisions made in a date range as CSV, streamed; `X-Export-Rows` says how many rows will
/// follow (for a progress bar); the file ends with a `# audit checkpoint …` line, also sent as
/// `X-KYC-Desk-Audit-Checkpoint`. Supervisors, admins, auditors; audited.
#[utoipa::path(get, path = "/api/exports/decisions.csv", tag = "review", security(("session" = [])),
    params(("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, content_type = "text/csv", description = "One row per decision"), (status = 403, body = ErrorBody)))]
pub(crate) async fn export_decisions(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiQuery(p): ApiQuery<RangeParams>,
) -> Result<Response, ServerError> {
    let (from, to, from_ms, to_ms) = date_range(p, st.desk.now_ms())?;
    let export = (st.desk)
        .export_decisions(&user, (from, to), (from_ms, to_ms))
        .await?;
    let (rows, checkpoint) = (export.rows.unwrap_or_default(), export.checkpoint.clone());
    // The file ends with the signed checkpoint (a comment line, `#`).
    let body = csv_body("decisions", export.checkpoint, export.write);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kyc-decisions-{from}-to-{to}.csv\""),
            ),
            (
                header::HeaderName::from_static("x-export-rows"),
                rows.to_string(),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-kyc-desk-audit-checkpoint"),
                checkpoint.unwrap_or_default(),
            ),
        ],
        body,
    )
        .into_response())
}

/// Streams a CSV written in chunks by `write` (on a blocking thread) as the response body, ending
/// with the signed checkpoint line (`# …`) when there is one; `what` names the export in the log.
pub(super) fn csv_body(
    what: &'static str,
    checkpoint: Option<String>,
    write: kyc_core::desk::CsvWriter,
) -> axum::body::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        match write(&mut |chunk| tx.blocking_send(Ok(chunk)).is_ok()) {
            Ok(_) => {
                if let Some(line) = &checkpoint {
                    let _ = tx.blocking_send(Ok(format!("# {line}\n").into_bytes()));
                }
            }
            Err(e) => {
                tracing::error!("{what} export failed: {e}");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
            }
        }
    });
    axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}
