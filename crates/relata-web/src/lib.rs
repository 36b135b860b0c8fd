//! Relata's web UI: server-rendered pages (askama templates, checked at compile time) over
//! the same services as the API, in English and Simplified Chinese. Every page works without
//! JavaScript; our own small script (`static/app.js`) adds instant search, type-ahead
//! lookups, keyboard shortcuts and drag and drop. Assets are embedded in the binary.
//!
//! Security: pages use the API's browser session cookie; every state-changing form carries
//! the session's CSRF token; responses forbid framing and inline script (`Content-Security-
//! Policy`), and every value a user typed is escaped by the templates.

pub mod assets;
pub mod error;
pub mod form;
pub mod format;
pub mod i18n;
pub mod notice;
pub mod pages;
pub mod session;
pub mod state;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::{get, post};

use pages::{
    approvals, attachments, auth, automation, board, bulk, calendar, contracts, decision_chain,
    duplicates, edit, email, export, forecast, groups, hierarchy, home, imports, lead_conversion,
    list, merge, my_day, notifications, pools, profile, quality, quotes, receivables, record,
    sales_report, search, settings, targets, timeline, views, web_form,
};
use relata_core::Core;
use state::WebState;

/// The routes of the web UI, for the binary to serve beside the API.
pub fn router(core: Arc<Core>) -> Router {
    let state = WebState { core };
    Router::new()
        .route("/", get(home::home))
        .route("/my-day", get(my_day::page))
        .route("/calendar", get(calendar::page))
        .route("/dashboard/sales", get(pages::sales_dashboard::page))
        .route("/receivables", get(receivables::page))
        .route("/forecast", get(forecast::page))
        .route("/forecast/adjust", post(forecast::adjust))
        .route("/forecast/history", get(forecast::history))
        .route("/targets", get(targets::page).post(targets::save))
        .route("/targets/{id}/delete", post(targets::delete))
        .route("/reports/sales", get(sales_report::page))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/f/{key}", get(web_form::page).post(web_form::submit))
        .route("/logout", post(auth::logout))
        .route("/setup", get(auth::setup_page).post(auth::setup))
        .route("/lang", post(auth::switch_language))
        .route("/search", get(search::page))
        .route("/search/instant", get(search::instant))
        .route("/lookup/{object}", get(search::lookup))
        .route("/lookup-users", get(search::users))
        .route("/me", get(profile::page).post(profile::save))
        .route("/me/password", post(profile::change_password))
        .route("/me/sessions/{id}/revoke", post(profile::revoke_session))
        .route("/me/tokens", post(profile::create_token))
        .route("/me/tokens/{id}/revoke", post(profile::revoke_token))
        .route("/o/{object}", get(list::page).post(edit::create))
        .route("/o/{object}/new", get(edit::new_page))
        .route("/o/{object}/bulk", post(bulk::bulk))
        .route("/o/{object}/export", get(export::view))
        .route(
            "/o/{object}/import",
            get(imports::upload::page).post(imports::upload::upload),
        )
        .route("/imports", get(imports::list))
        .route("/imports/{id}", get(imports::job::page))
        .route("/imports/{id}/start", post(imports::actions::start))
        .route("/imports/{id}/cancel", post(imports::actions::cancel))
        .route("/imports/{id}/undo", post(imports::actions::undo))
        .route(
            "/imports/{id}/errors.csv",
            get(imports::actions::errors_csv),
        )
        .route("/o/{object}/views", post(views::save))
        .route("/o/{object}/views/{id}/delete", post(views::delete))
        .route("/recent", get(views::recent_page))
        .route("/notifications", get(notifications::page))
        .route("/notifications/read", post(notifications::mark_read))
        .route("/approvals", get(approvals::page))
        .route("/approvals/{id}/decide", post(approvals::decide))
        .route("/o/{object}/bin", get(list::bin))
        .route("/o/{object}/board", get(board::page))
        .route("/o/{object}/quality", get(quality::page))
        .route("/tags", get(groups::tags_page))
        .route("/lists", get(groups::lists_page).post(groups::create_list))
        .route("/lists/{id}/delete", post(groups::delete_list))
        .route("/o/{object}/{id}/tags", post(groups::tag_record))
        .route(
            "/o/{object}/{id}/tags/{tag}/remove",
            post(groups::untag_record),
        )
        .route("/o/{object}/{id}", get(record::page))
        .route(
            "/o/{object}/{id}/edit",
            get(edit::edit_page).post(edit::update),
        )
        .route("/o/{object}/{id}/field/{field}", post(edit::inline))
        .route("/o/{object}/{id}/delete", post(edit::delete))
        .route("/o/{object}/{id}/duplicates", get(duplicates::page))
        .route("/o/{object}/{id}/timeline", get(timeline::page))
        .route("/o/{object}/{id}/attachments", post(attachments::upload))
        .route("/o/{object}/{id}/email", post(email::send))
        .route("/attachments/{id}", get(attachments::download))
        .route("/attachments/{id}/delete", post(attachments::delete))
        .route("/o/{object}/{id}/hierarchy", get(hierarchy::page))
        .route("/o/{object}/{id}/automation", get(automation::page))
        .route("/o/{object}/{id}/decision-chain", get(decision_chain::page))
        .route(
            "/o/{object}/{id}/merge",
            get(merge::page).post(merge::merge),
        )
        .route("/o/{object}/{id}/merges/{merge}/undo", post(merge::undo))
        .route(
            "/o/{object}/{id}/convert",
            get(lead_conversion::page).post(lead_conversion::convert),
        )
        .route("/o/{object}/{id}/restore", post(edit::restore))
        .route("/o/{object}/{id}/approval/submit", post(approvals::submit))
        .route("/o/{object}/{id}/approval/recall", post(approvals::recall))
        .route("/o/{object}/{id}/revise", post(quotes::revise))
        .route("/o/{object}/{id}/contract", post(contracts::create))
        .route("/o/{object}/{id}/return", post(pools::return_record))
        .route("/pools", get(pools::list))
        .route("/pools/{id}", get(pools::page))
        .route("/pools/{id}/claim", post(pools::claim))
        .route("/pools/{id}/assign", post(pools::assign))
        .route("/settings", get(settings::index))
        .route(
            "/settings/objects",
            get(settings::objects::list).post(settings::objects::create),
        )
        .route("/settings/objects/{object}", get(settings::objects::show))
        .route(
            "/settings/objects/{object}/fields",
            post(settings::objects::add_field),
        )
        .route(
            "/settings/objects/{object}/fields/{field}",
            get(settings::objects::field).post(settings::objects::update_field),
        )
        .route(
            "/settings/objects/{object}/fields/{field}/archive",
            post(settings::objects::archive_field),
        )
        .route(
            "/settings/objects/{object}/layout",
            get(settings::objects::layout).post(settings::objects::save_layout),
        )
        .route(
            "/settings/objects/{object}/duplicates/run",
            post(settings::duplicate_review::start),
        )
        .route(
            "/settings/duplicate-jobs/{id}",
            get(settings::duplicate_review::page),
        )
        .route(
            "/settings/duplicate-jobs/{id}/review",
            post(settings::duplicate_review::review),
        )
        .route(
            "/settings/objects/{object}/duplicates",
            get(settings::matching::page).post(settings::matching::save),
        )
        .route(
            "/settings/objects/{object}/sharing",
            post(settings::objects::set_sharing),
        )
        .route(
            "/settings/users",
            get(settings::users::list).post(settings::users::create),
        )
        .route(
            "/settings/users/{id}",
            get(settings::users::show).post(settings::users::update),
        )
        .route("/settings/users/{id}/unlock", post(settings::users::unlock))
        .route("/settings/org", get(settings::org::page))
        .route("/settings/roles", post(settings::org::create_role))
        .route(
            "/settings/roles/{id}/delete",
            post(settings::org::delete_role),
        )
        .route("/settings/teams", post(settings::org::create_team))
        .route(
            "/settings/teams/{id}/delete",
            post(settings::org::delete_team),
        )
        .route(
            "/settings/teams/{id}/members",
            post(settings::org::team_member),
        )
        .route(
            "/settings/permissions",
            get(settings::permissions::list).post(settings::permissions::create),
        )
        .route(
            "/settings/permissions/{id}",
            get(settings::permissions::show).post(settings::permissions::update),
        )
        .route(
            "/settings/permissions/{id}/delete",
            post(settings::permissions::delete),
        )
        .route(
            "/settings/sharing",
            get(settings::sharing::page).post(settings::sharing::create),
        )
        .route(
            "/settings/sharing/{id}/delete",
            post(settings::sharing::delete),
        )
        .route("/settings/audit", get(settings::audit::page))
        .route("/settings/jobs", get(settings::jobs::page))
        .route("/settings/jobs/{id}/{action}", post(settings::jobs::act))
        .route("/settings/schedules", post(settings::jobs::save_schedule))
        .route(
            "/settings/forms",
            get(settings::web_forms::page).post(settings::web_forms::create),
        )
        .route(
            "/settings/forms/{id}",
            get(settings::web_forms::detail).post(settings::web_forms::save),
        )
        .route(
            "/settings/webhooks",
            get(settings::webhooks::page).post(settings::webhooks::create),
        )
        .route(
            "/settings/webhooks/{id}",
            get(settings::webhooks::detail).post(settings::webhooks::save),
        )
        .route(
            "/settings/webhook-deliveries/{id}/replay",
            post(settings::webhooks::replay),
        )
        .route(
            "/settings/pools",
            get(settings::pools::page).post(settings::pools::create),
        )
        .route(
            "/settings/pools/{id}",
            get(settings::pools::detail).post(settings::pools::save),
        )
        .route(
            "/settings/pipelines",
            get(settings::pipelines::page).post(settings::pipelines::create),
        )
        .route(
            "/settings/pipelines/{name}",
            get(settings::pipelines::detail).post(settings::pipelines::save),
        )
        .route(
            "/settings/pipelines/{name}/delete",
            post(settings::pipelines::delete),
        )
        .route(
            "/settings/collection",
            get(settings::collection::page).post(settings::collection::save),
        )
        .route(
            "/settings/assignment",
            get(settings::assignment::page).post(settings::assignment::create),
        )
        .route(
            "/settings/assignment/{id}",
            get(settings::assignment::detail).post(settings::assignment::save),
        )
        .route(
            "/settings/workflows",
            get(settings::workflows::page).post(settings::workflows::create),
        )
        .route(
            "/settings/email_templates",
            get(settings::email_templates::page).post(settings::email_templates::create),
        )
        .route(
            "/settings/email_templates/{id}",
            get(settings::email_templates::detail).post(settings::email_templates::save),
        )
        .route(
            "/settings/workflows/{id}",
            get(settings::workflows::detail).post(settings::workflows::save),
        )
        .route("/static/{file}", get(assets::serve))
        .layer(from_fn(pages::security_headers))
        .with_state(state)
}
