//! Signing in and out, the signed-in account (`/api/me`), its own password, and the first start's setup.

use super::*;
use kyc_core::desk::SignIn;

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
}
#[utoipa::path(post, path = "/api/login", tag = "review", request_body = LoginBody,
    responses((status = 200, description = "`{token, user, expires_at}`; also sets the session cookie"), (status = 401, body = ErrorBody)))]
pub(crate) async fn login(
    State(st): St,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody, DOOR_KIB>,
) -> Result<Response, ServerError> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    kyc_core::users::check_name(&body.username)?;
    let _permit = enter_door(&st, Some(&body.username), ip).await?;
    let name = body.username.clone();
    let who = SignIn {
        addr: ip,
        agent,
        name: body.username,
        password: body.password,
    };
    let session = (st.desk)
        .sign_in(st.guard.clone(), who, st.session_minutes)
        .await
        .inspect_err(|e| {
            if matches!(e, CoreError::TooManyAttempts(_)) {
                tracing::warn!(address = %ip, "sign-in throttled");
            }
        })?;
    tracing::info!(user = %name, "login");
    Ok(session_response(&st, session))
}
#[utoipa::path(post, path = "/api/logout", tag = "review", responses((status = 204, description = "Signed out")))]
pub(crate) async fn logout(State(st): St, headers: HeaderMap) -> Result<Response, ServerError> {
    if let Some(token) = session_token(&headers) {
        st.desk.sign_out(token).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("kyc_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}
#[utoipa::path(get, path = "/api/me", tag = "review", security(("session" = [])), responses((status = 200, body = kyc_core::users::UserView), (status = 401, body = ErrorBody)))]
pub(crate) async fn me(SignedIn { user, .. }: SignedIn) -> Json<User> {
    Json(user)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OwnPasswordBody {
    current_password: String,
    new_password: String,
}

/// Changes the caller's own password (also the forced change after a reset): every session of
/// the account ends and a new one is returned.
#[utoipa::path(post, path = "/api/me/password", tag = "review", security(("session" = [])), request_body = OwnPasswordBody,
    responses((status = 200, description = "`{token, user, expires_at}`: a new session"), (status = 400, body = ErrorBody, description = "Wrong current password or weak new one")))]
pub(crate) async fn change_own_password(
    State(st): St,
    ClientIp(ip): ClientIp,
    SignedIn { user, .. }: SignedIn,
    ApiJson(body): ApiJson<OwnPasswordBody, DOOR_KIB>,
) -> Result<Response, ServerError> {
    let _permit = enter_door(&st, Some(&user.name), ip).await?;
    let passwords = (body.current_password, body.new_password);
    let session = (st.desk)
        .change_own_password(st.guard.clone(), ip, &user, passwords, st.session_minutes)
        .await?;
    tracing::info!(user = %session.user.name, "password changed");
    Ok(session_response(&st, session))
}

/// First run: whether an admin must still be created, and where Ditto ID must send.
#[utoipa::path(get, path = "/api/setup", tag = "review", responses((status = 200, description = "`{needs_setup, receiver_url, tls_fingerprint, auth_mode, plain_http_on_network}`")))]
pub(crate) async fn setup_status(State(st): St) -> Result<Json<Value>, ServerError> {
    let needs_setup = st.desk.needs_setup().await?;
    Ok(Json(json!({
        "needs_setup": needs_setup,
        "code_required": true,
        "receiver_url": st.settings.receiver_url,
        "tls_fingerprint": st.settings.tls_fingerprint,
        "auth_mode": st.settings.auth_mode,
        "plain_http_on_network": st.settings.plain_http_on_network,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupBody {
    /// The one-time code `kyc-desk serve` printed (the desktop window fills it in itself).
    setup_code: String,
    username: String,
    password: String,
}

/// First run: creates the first admin (only with the one-time setup code, only while there are
/// no accounts) and signs them in.
#[utoipa::path(post, path = "/api/setup", tag = "review", request_body = SetupBody,
    responses((status = 200, description = "The first admin is created and signed in"),
        (status = 400, body = ErrorBody, description = "Accounts exist already, or a weak password"),
        (status = 403, body = ErrorBody, description = "Missing or wrong setup code"),
        (status = 429, body = ErrorBody, description = "Too many wrong codes from this address")))]
pub(crate) async fn setup(
    State(st): St,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SetupBody, DOOR_KIB>,
) -> Result<Response, ServerError> {
    let _permit = enter_door(&st, None, ip).await?;
    let who = SignIn {
        addr: ip,
        agent: None,
        name: body.username,
        password: body.password,
    };
    let (code, guard) = (st.setup.clone(), st.guard.clone());
    let session = (st.desk)
        .setup_first_admin(code, guard, who, body.setup_code, st.session_minutes)
        .await
        .inspect_err(|e| {
            if matches!(e, CoreError::BadSetupCode | CoreError::TooManyAttempts(_)) {
                tracing::warn!(address = %ip, "setup refused: wrong setup code");
            }
        })?;
    tracing::info!(user = %session.user.name, "first admin created");
    Ok(session_response(&st, session))
}
