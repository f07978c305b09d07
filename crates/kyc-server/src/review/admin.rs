//! Administration: webhook deliveries, accounts, the queue's filter values, settings and the Ditto ID config.

use super::*;

#[derive(Deserialize)]
pub(crate) struct DeliveryParams {
    case: Option<String>,
}

/// The webhook delivery log (optionally for one case).
#[utoipa::path(get, path = "/api/deliveries", tag = "review", security(("session" = [])),
    params(("case" = Option<String>, Query, description = "Case id or reference")),
    responses((status = 200, description = "`{deliveries: [DeliveryInfo]}`")))]
pub(crate) async fn deliveries(
    State(st): St,
    _who: Reviewer,
    ApiQuery(p): ApiQuery<DeliveryParams>,
) -> Result<Json<Value>, ServerError> {
    let log = st.desk.deliveries(p.case).await?;
    Ok(Json(json!({"deliveries": log})))
}

/// Queues a delivery again at once (supervisors and admins).
#[utoipa::path(post, path = "/api/deliveries/{id}/resend", tag = "review", security(("session" = [])),
    params(("id" = i64, Path)), responses((status = 202, description = "Queued again"), (status = 403, body = ErrorBody)))]
pub(crate) async fn resend_delivery(
    State(st): St,
    Reviewer(user): Reviewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ServerError::BadRequest("delivery id: a number".into()))?;
    st.desk.resend_delivery(&user, id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(get, path = "/api/users", tag = "review", security(("session" = [])),
    responses((status = 200, body = Vec<Account>), (status = 403, body = ErrorBody)))]
/// The accounts: names, roles, state and last sign-in (admins, and supervisors who assign cases).
pub(crate) async fn list_users(
    State(st): St,
    Reviewer(user): Reviewer,
) -> Result<Json<Vec<Account>>, ServerError> {
    Ok(Json(st.desk.accounts(&user).await?))
}

/// An admin's change to an account: audited, and every session of the account ends at once.
pub(crate) async fn change_account(
    st: &ReviewState,
    admin: User,
    name: String,
    change: AccountChange,
) -> Result<Json<Account>, ServerError> {
    let account = st.desk.change_account(&admin, name, change).await?;
    tracing::info!(user = %account.name, "account changed; its sessions were revoked");
    Ok(Json(account))
}

/// Disables an account (admins): it can no longer sign in; its sessions end.
#[utoipa::path(post, path = "/api/users/{name}/disable", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), responses((status = 200, body = Account), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The last enabled admin")))]
pub(crate) async fn disable_user(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
) -> Result<Json<Account>, ServerError> {
    change_account(&st, admin, name, AccountChange::Disable).await
}

/// Enables a disabled account again (admins).
#[utoipa::path(post, path = "/api/users/{name}/enable", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), responses((status = 200, body = Account), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn enable_user(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
) -> Result<Json<Account>, ServerError> {
    change_account(&st, admin, name, AccountChange::Enable).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    /// reviewer, supervisor, admin or auditor.
    role: String,
}

/// Changes an account's role (admins); its sessions end.
#[utoipa::path(post, path = "/api/users/{name}/role", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), request_body = RoleBody,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "The last enabled admin")))]
pub(crate) async fn set_user_role(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<Account>, ServerError> {
    let role: Role = body.role.parse().map_err(CoreError::from)?;
    change_account(&st, admin, name, AccountChange::SetRole(role)).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    /// A temporary password; the account must choose its own at its next sign-in.
    password: String,
}

/// Resets an account's password (admins): its sessions end and it must choose a new one.
#[utoipa::path(post, path = "/api/users/{name}/reset-password", tag = "review", security(("session" = [])),
    params(("name" = String, Path)), request_body = ResetBody,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody, description = "Weak password"), (status = 403, body = ErrorBody)))]
pub(crate) async fn reset_user_password(
    State(st): St,
    Reviewer(admin): Reviewer,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ResetBody, DOOR_KIB>,
) -> Result<Json<Account>, ServerError> {
    change_account(
        &st,
        admin,
        name,
        AccountChange::ResetPassword(body.password),
    )
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    username: String,
    /// reviewer, supervisor, admin or auditor.
    role: String,
    password: String,
}

#[utoipa::path(post, path = "/api/users", tag = "review", security(("session" = [])), request_body = NewUserBody,
    responses((status = 200, body = kyc_core::users::UserView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
/// Creates an account (admins only).
pub(crate) async fn add_user(
    State(st): St,
    Reviewer(user): Reviewer,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<Json<User>, ServerError> {
    let role: Role = body.role.parse().map_err(CoreError::from)?;
    let created = (st.desk)
        .add_user(&user, body.username, role, body.password)
        .await?;
    Ok(Json(created))
}

/// Values the queue's filters offer.
#[utoipa::path(get, path = "/api/facets", tag = "review", security(("session" = [])), responses((status = 200, description = "`{document_types, flag_codes}`")))]
pub(crate) async fn facets(State(st): St, _who: Reviewer) -> Result<Json<Value>, ServerError> {
    let types = st.desk.document_types().await?;
    Ok(Json(
        json!({"document_types": types, "flag_codes": kyc_domain::flag::FLAG_CODES}),
    ))
}
#[utoipa::path(get, path = "/api/settings", tag = "review", security(("session" = [])), responses((status = 200, body = SettingsView)))]
pub(crate) async fn settings(State(st): St, _who: Reviewer) -> Json<SettingsView> {
    Json(st.settings.clone())
}

/// The `kyc.service.api.config` JSON (it holds secrets: admins only).
#[utoipa::path(get, path = "/api/settings/ditto-config", tag = "review", security(("session" = [])),
    responses((status = 200, description = "Ditto ID's kyc.service.api.config JSON (admins only)"), (status = 403, body = ErrorBody)))]
pub(crate) async fn ditto_config(
    State(st): St,
    Reviewer(user): Reviewer,
) -> Result<Json<Value>, ServerError> {
    st.desk.ditto_config_viewed(&user).await?;
    Ok(Json(st.settings.ditto_config.clone()))
}
