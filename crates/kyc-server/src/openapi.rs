//! The OpenAPI description of both APIs (receiver and review), served at `/api/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

struct SessionAuth;

impl Modify for SessionAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token from POST /api/login (browsers may use the kyc_session cookie)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "KYC Desk", description = "The receiver Ditto ID calls and the review API the desk uses."),
    paths(
        crate::receiver::receive,
        crate::receiver::token,
        crate::review::login,
        crate::review::logout,
        crate::review::me,
        crate::review::change_own_password,
        crate::review::list_cases,
        crate::review::case_detail,
        crate::review::case_image,
        crate::review::decide,
        crate::review::events,
        crate::review::setup_status,
        crate::review::setup,
        crate::review::deliveries,
        crate::review::resend_delivery,
        crate::review::facets,
        crate::review::settings,
        crate::review::ditto_config,
        crate::review::list_users,
        crate::review::add_user,
        crate::review::disable_user,
        crate::review::enable_user,
        crate::review::set_user_role,
        crate::review::reset_user_password,
        crate::review::assign,
        crate::review::add_note,
        crate::review::escalate,
        crate::review::supervisors,
        crate::review::present,
        crate::review::absent,
        crate::review::presence,
        crate::review::erase,
        crate::review::audit_trail,
        crate::review::audit_verify,
        crate::review::export_audit,
        crate::review::case_report,
        crate::review::statistics,
        crate::review::export_decisions,
    ),
    components(schemas(
        ErrorBody,
        kyc_core::store::CaseSummary,
        kyc_core::store::CasePage,
        kyc_core::store::Answer,
        kyc_core::store::DeliveryInfo,
        kyc_core::view::CaseDetail,
        kyc_core::notes::Note,
        kyc_core::checks::Flag,
        kyc_core::users::UserView,
        kyc_core::users::Permission,
        kyc_core::users::Account,
        kyc_core::audit::AuditEntry,
        kyc_core::stats::Stats,
        kyc_core::stats::Day,
        kyc_core::stats::ReviewerStats,
        crate::review::SettingsView,
    )),
    modifiers(&SessionAuth),
    tags((name = "receiver", description = "What Ditto ID's IDV Server calls"), (name = "review", description = "What the desk UI and scripts call"))
)]
struct ApiDoc;

/// The OpenAPI document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// The copy the web UI's TypeScript types are generated from (`npm run gen:api` in ui/).
    const UI_COPY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/src/lib/openapi.json");

    /// The UI's copy of the document is this document: a change to the API's types reaches the
    /// UI's types (or this fails). `KYC_DESK_BLESS=1 cargo test -p kyc-server openapi` rewrites
    /// the copy; then `npm run gen:api` in ui/ regenerates the types, which `npm run check` checks.
    #[test]
    fn the_ui_copy_of_the_document_is_current() {
        let now = serde_json::to_string_pretty(&super::document()).unwrap() + "\n";
        if std::env::var_os("KYC_DESK_BLESS").is_some() {
            std::fs::write(UI_COPY, &now).unwrap();
        }
        let copy = std::fs::read_to_string(UI_COPY).unwrap_or_default();
        assert!(
            copy == now,
            "ui/src/lib/openapi.json is not the server's OpenAPI document: run \
             `KYC_DESK_BLESS=1 cargo test -p kyc-server openapi`, then `npm run gen:api` in ui/"
        );
    }
}
