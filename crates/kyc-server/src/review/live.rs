//! The live event stream (server-sent events), ended with its session.

use super::*;

#[utoipa::path(get, path = "/api/events", tag = "review", security(("session" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "Server-sent events case.created, case.decided, case.answered, case.assigned, case.erased (its case carries only id and reference); data is `{type, case, hold_until?}`. `presence`: who has which case open. `resync` (data `{type}`): events may have been missed (this stream fell behind, or the instances' listener on a shared database was cut); read the lists again")))]
pub(crate) async fn events(
    State(st): St,
    SignedIn { user, token }: SignedIn,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ServerError> {
    use futures::StreamExt as _;
    if user.must_change_password {
        return Err(CoreError::PasswordChangeRequired.into());
    }
    let cases =
        tokio_stream::StreamExt::filter_map(BroadcastStream::new(st.desk.subscribe()), |ev| {
            Some(Ok(match ev {
                Ok(ev) => {
                    let data = serde_json::to_string(&ev).ok()?;
                    SseEvent::default().event(ev.kind.as_str()).data(data)
                }
                // This client fell behind and events were dropped for it.
                Err(_) => resync(),
            }))
        });
    // Events missed between the instances (their listener was cut): after the current value,
    // each change.
    let missed =
        tokio_stream::wrappers::WatchStream::from_changes(st.desk.resyncs()).map(|_| Ok(resync()));
    // Who views what: the current state first, then every change.
    let viewers = tokio_stream::wrappers::WatchStream::new(st.desk.presence().watch()).map(|v| {
        let data = json!({"type": "presence", "viewers": v}).to_string();
        Ok(SseEvent::default().event("presence").data(data))
    });
    let stream = futures::stream::select(futures::stream::select(cases, missed), viewers);
    // The stream ends within 2 s of its session ending (logout, expiry, or an account change,
    // which revokes every session of the account). The check runs in a task of its own, so it
    // goes on while the client does not read, and no event is sent once it has fired.
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let desk = st.desk.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SESSION_RECHECK);
        let mut failures = 0;
        while !ended_tx.is_closed() {
            tick.tick().await;
            match desk.session_user(token.clone()).await {
                Ok(u) if !u.must_change_password => failures = 0,
                // A storage hiccup gets one more try; never more (fail closed).
                Err(CoreError::Storage(_) | CoreError::Internal(_)) if failures == 0 => {
                    failures += 1
                }
                _ => break,
            }
        }
        let _ = ended_tx.send(());
    });
    Ok(Sse::new(stream.take_until(ended_rx)).keep_alive(KeepAlive::default()))
}

/// `resync`: events may have been missed (this stream fell behind, or the instances' listener was
/// cut); the lists are to be read again.
fn resync() -> SseEvent {
    SseEvent::default()
        .event("resync")
        .data(json!({"type": "resync"}).to_string())
}

/// How often an open event stream re-checks its session.
pub(super) const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_millis(700);
