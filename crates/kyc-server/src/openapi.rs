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
        crate::receiver::health,
        crate::review::session::login,
        crate::review::session::logout,
        crate::review::session::me,
        crate::review::session::change_own_password,
        crate::review::cases::list_cases,
        crate::review::cases::case_detail,
        crate::review::cases::case_image,
        crate::review::cases::decide,
        crate::review::live::events,
        crate::review::session::setup_status,
        crate::review::session::setup,
        crate::review::admin::deliveries,
        crate::review::admin::resend_delivery,
        crate::review::admin::facets,
        crate::review::admin::settings,
        crate::review::admin::ditto_config,
        crate::review::admin::list_users,
        crate::review::admin::add_user,
        crate::review::admin::disable_user,
        crate::review::admin::enable_user,
        crate::review::admin::set_user_role,
        crate::review::admin::reset_user_password,
        crate::review::cases::assign,
        crate::review::cases::add_note,
        crate::review::cases::escalate,
        crate::review::cases::supervisors,
        crate::review::cases::present,
        crate::review::cases::absent,
        crate::review::cases::presence,
        crate::review::cases::erase,
        crate::review::audit::audit_trail,
        crate::review::audit::audit_verify,
        crate::review::audit::export_audit,
        crate::review::cases::case_report,
        crate::review::exports::statistics,
        crate::review::exports::export_decisions,
    ),
    components(schemas(
        ErrorBody,
        kyc_domain::case::CaseSummary,
        kyc_domain::case::CasePage,
        kyc_domain::case::Answer,
        kyc_domain::case::DeliveryInfo,
        kyc_core::view::CaseDetail,
        kyc_domain::case::Note,
        kyc_domain::flag::Flag,
        kyc_core::users::UserView,
        kyc_core::users::Permission,
        kyc_core::users::Account,
        kyc_domain::case::AuditEntry,
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
