//! Relata's REST API (axum). Handlers are thin: parse the request, call one service in
//! relata-core, shape the response. Errors become RFC 7807 problem+json in one place
//! (`problem.rs`). The OpenAPI document is generated from the handlers' annotations and the
//! same route table that serves them (utoipa-axum), so the two cannot disagree.

pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod params;
pub mod problem;
pub mod routes;
pub mod state;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Html;
use axum::routing::get;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use relata_core::Core;
use routes::{
    admin, approvals, assignment, attachments, auth, changes, collection, dashboard,
    duplicate_jobs, duplicates, email, export, hierarchy, imports, jobs, leads, lists, me, merge,
    meta, pipelines, pools, quality, records, search, system, tags, targets, timeline, views,
    web_forms, webhooks, workflows,
};
use state::{AppState, TokenCache};

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Relata API",
        description = "The REST API of Relata, an open-source CRM. Every /api call needs `Authorization: Bearer <token>` (create one with `relata token create` or `POST /api/v1/me/tokens`) or a session cookie from `POST /api/v1/auth/login`; a state-changing request with the cookie must send the session's CSRF token in `X-CSRF-Token`. Errors are RFC 7807 problem+json with a stable `code` and every field error listed.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "records", description = "Records of every object: CRUD, recycle bin, history, lists, bulk upsert"),
        (name = "metadata", description = "Objects and fields, standard and custom"),
        (name = "search", description = "Global search"),
        (name = "changes", description = "The change feed"),
        (name = "imports", description = "Imports of CSV and XLSX files, as background jobs"),
        (name = "auth", description = "Signing in and out (browser sessions)"),
        (name = "me", description = "The signed-in user: profile, password, sessions, API tokens"),
        (name = "admin", description = "Users, roles, teams, permissions, sharing and the audit log"),
        (name = "email", description = "Email templates with merge fields, sending mail about a record, sender identities, the suppression list, and the open, click and unsubscribe addresses in every mail"),
        (name = "approvals", description = "Approval processes (审批流) and their requests: submit a record, decide, recall; revising a quote into a new version"),
        (name = "collection", description = "Contracts (合同) from won deals and accepted quotes, receivables with ageing and collection rate (回款), and the settings of payment collection and numbering"),
        (name = "forecasting", description = "Sales targets (销售目标) with live attainment; the forecast (销售预测) by category with adjustments, overrides and weekly snapshots"),
        (name = "sales", description = "The sales pipeline: converting leads, where a converted lead's fields go, and pools (公海) of leads and accounts"),
        (name = "automation", description = "Background jobs (see, retry, cancel), recurring schedules, outbound webhooks and workflow rules"),
        (name = "system", description = "Health of the server (public)"),
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(records::create, records::list))
        .routes(routes!(records::get, records::update, records::delete))
        .routes(routes!(records::restore))
        .routes(routes!(records::history))
        .routes(routes!(timeline::timeline))
        .routes(routes!(hierarchy::hierarchy))
        .routes(routes!(hierarchy::decision_chain))
        .routes(routes!(
            attachments::attach_file,
            attachments::list_attachments
        ))
        .routes(routes!(
            attachments::download_attachment,
            attachments::remove_attachment
        ))
        .routes(routes!(tags::list_tags))
        .routes(routes!(tags::tag_many))
        .routes(routes!(tags::record_tags, tags::tag_record))
        .routes(routes!(tags::untag_record))
        .routes(routes!(tags::untag_many))
        .routes(routes!(tags::update_tag, tags::delete_tag))
        .routes(routes!(lists::list_lists, lists::create_list))
        .routes(routes!(
            lists::get_list,
            lists::update_list,
            lists::delete_list
        ))
        .routes(routes!(lists::add_members))
        .routes(routes!(lists::remove_members))
        .routes(routes!(quality::weakest_records))
        .routes(routes!(quality::record_quality))
        .routes(routes!(merge::plan, merge::merge))
        .routes(routes!(merge::merges))
        .routes(routes!(merge::undo))
        .routes(routes!(records::bulk))
        .routes(routes!(meta::list_objects, meta::create_object))
        .routes(routes!(meta::get_object))
        .routes(routes!(meta::add_field))
        .routes(routes!(meta::update_field, meta::delete_field))
        .routes(routes!(meta::set_layout))
        .routes(routes!(
            meta::get_matching_rule,
            meta::set_matching_rule,
            meta::reset_matching_rule
        ))
        .routes(routes!(leads::preview))
        .routes(routes!(leads::convert))
        .routes(routes!(
            leads::get_conversion_map,
            leads::set_conversion_map,
            leads::reset_conversion_map
        ))
        .routes(routes!(dashboard::sales))
        .routes(routes!(
            approvals::list_processes,
            approvals::create_process
        ))
        .routes(routes!(approvals::save_process, approvals::delete_process))
        .routes(routes!(approvals::mine, approvals::submit))
        .routes(routes!(approvals::get_request))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(approvals::recall))
        .routes(routes!(approvals::revise_quote))
        .routes(routes!(approvals::quote_pdf))
        .routes(routes!(approvals::send_quote))
        .routes(routes!(collection::from_opportunity))
        .routes(routes!(collection::from_quote))
        .routes(routes!(collection::receivables))
        .routes(routes!(collection::sales_report))
        .routes(routes!(collection::get_settings, collection::put_settings))
        .routes(routes!(targets::list_targets, targets::save_target))
        .routes(routes!(targets::delete_target))
        .routes(routes!(targets::forecast))
        .routes(routes!(targets::adjust_forecast))
        .routes(routes!(targets::forecast_history))
        .routes(routes!(targets::forecast_trend))
        .routes(routes!(pipelines::list_pipelines))
        .routes(routes!(
            pipelines::get_pipeline,
            pipelines::save_pipeline,
            pipelines::delete_pipeline
        ))
        .routes(routes!(pipelines::board))
        .routes(routes!(pipelines::board_column))
        .routes(routes!(pipelines::stage_history))
        .routes(routes!(pools::list_pools, pools::create_pool))
        .routes(routes!(
            pools::get_pool,
            pools::update_pool,
            pools::delete_pool
        ))
        .routes(routes!(pools::claim))
        .routes(routes!(pools::assign))
        .routes(routes!(pools::add))
        .routes(routes!(pools::return_records))
        .routes(routes!(pools::pool_history))
        .routes(routes!(views::aggregate))
        .routes(routes!(export::export))
        .routes(routes!(duplicates::of_input))
        .routes(routes!(duplicates::of_record))
        .routes(routes!(
            duplicate_jobs::start_job,
            duplicate_jobs::list_jobs
        ))
        .routes(routes!(duplicate_jobs::get_job))
        .routes(routes!(duplicate_jobs::list_groups))
        .routes(routes!(duplicate_jobs::merge_group))
        .routes(routes!(duplicate_jobs::dismiss_group))
        .routes(routes!(duplicate_jobs::merge_groups))
        .routes(routes!(jobs::list_jobs, jobs::enqueue_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::list_schedules))
        .routes(routes!(jobs::put_schedule))
        .routes(routes!(email::list_templates, email::create_template))
        .routes(routes!(
            email::get_template,
            email::update_template,
            email::delete_template
        ))
        .routes(routes!(email::send_email))
        .routes(routes!(email::preview_email))
        .routes(routes!(email::get_email))
        .routes(routes!(email::record_emails))
        .routes(routes!(email::list_identities, email::create_identity))
        .routes(routes!(email::delete_identity))
        .routes(routes!(email::list_suppressions, email::add_suppression))
        .routes(routes!(email::remove_suppression))
        .routes(routes!(email::list_mailboxes, email::create_mailbox))
        .routes(routes!(email::delete_mailbox))
        .routes(routes!(email::sync_mailbox))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::replay_delivery))
        .routes(routes!(
            workflows::list_workflow_rules,
            workflows::create_workflow_rule
        ))
        .routes(routes!(
            workflows::get_workflow_rule,
            workflows::update_workflow_rule,
            workflows::delete_workflow_rule
        ))
        .routes(routes!(workflows::list_workflow_versions))
        .routes(routes!(workflows::test_workflow_rule))
        .routes(routes!(workflows::start_workflow_rule))
        .routes(routes!(workflows::list_workflow_runs))
        .routes(routes!(workflows::get_workflow_run))
        .routes(routes!(workflows::record_workflows))
        .routes(routes!(workflows::workflow_backlog))
        .routes(routes!(workflows::issue_inbound_token))
        .routes(routes!(
            assignment::list_assignment_rules,
            assignment::create_assignment_rule
        ))
        .routes(routes!(
            assignment::get_assignment_rule,
            assignment::update_assignment_rule,
            assignment::delete_assignment_rule
        ))
        .routes(routes!(assignment::assign_by_rule))
        .routes(routes!(
            web_forms::list_web_forms,
            web_forms::create_web_form
        ))
        .routes(routes!(
            web_forms::get_web_form,
            web_forms::update_web_form,
            web_forms::delete_web_form
        ))
        .routes(routes!(assignment::set_away, assignment::clear_away))
        .routes(routes!(imports::upload_import, imports::list_imports))
        .routes(routes!(imports::get_import))
        .routes(routes!(imports::preview_import))
        .routes(routes!(imports::start_import))
        .routes(routes!(imports::cancel_import))
        .routes(routes!(imports::undo_import))
        .routes(routes!(imports::import_rows))
        .routes(routes!(imports::import_error_report))
        .routes(routes!(views::list_views, views::save_view))
        .routes(routes!(views::delete_view))
        .routes(routes!(views::recent))
        .routes(routes!(views::notifications))
        .routes(routes!(views::read_notifications))
        .routes(routes!(search::search))
        .routes(routes!(changes::changes))
        .routes(routes!(records::shares, records::share))
        .routes(routes!(records::unshare))
        .routes(routes!(records::transfer))
        .routes(routes!(auth::logout))
        .routes(routes!(me::get_me, me::update_me))
        .routes(routes!(me::change_password))
        .routes(routes!(me::sessions))
        .routes(routes!(me::revoke_session))
        .routes(routes!(me::tokens, me::create_token))
        .routes(routes!(me::revoke_token))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(admin::get_user, admin::update_user))
        .routes(routes!(admin::unlock_user))
        .routes(routes!(admin::assign_set, admin::unassign_set))
        .routes(routes!(admin::list_roles, admin::create_role))
        .routes(routes!(admin::update_role, admin::delete_role))
        .routes(routes!(admin::list_teams, admin::create_team))
        .routes(routes!(admin::delete_team))
        .routes(routes!(admin::add_member, admin::remove_member))
        .routes(routes!(admin::list_sets, admin::create_set))
        .routes(routes!(admin::update_set, admin::delete_set))
        .routes(routes!(admin::list_rules, admin::create_rule))
        .routes(routes!(admin::delete_rule))
        .routes(routes!(admin::set_object_sharing))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::record_audit))
        .routes(routes!(admin::revoke_user_token))
}

/// Public routes that are part of the API's contract (no token needed).
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(system::healthz))
        .routes(routes!(auth::login))
        .routes(routes!(auth::setup_status, auth::setup))
        .routes(routes!(auth::request_reset))
        .routes(routes!(auth::confirm_reset))
        .routes(routes!(workflows::inbound_call))
        .routes(routes!(web_forms::public_form, web_forms::submit_form))
        .routes(routes!(email::open_pixel))
        .routes(routes!(email::click))
        .routes(routes!(email::unsubscribe_page, email::unsubscribe))
}

/// The authenticated routes, the public documented routes, and the OpenAPI document of both.
fn documented_routes() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = api_routes().split_for_parts();
    let (public, public_doc) = public_routes().split_for_parts();
    doc.merge(public_doc);
    problem::document(&mut doc);
    (api, public, doc)
}

/// The OpenAPI document (3.1) of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented_routes().2
}

/// The whole HTTP application: `/api/v1/…`, `/healthz`, `/metrics`, `/docs`.
pub fn router(core: Arc<Core>, opts: ApiOptions) -> Router {
    router_with(core, opts, Router::new())
}

/// The API together with other routes (the web UI), which share its request ids, tracing,
/// metrics and body limit; what neither serves answers the API's 404.
pub fn router_with(core: Arc<Core>, opts: ApiOptions, pages: Router) -> Router {
    let state = AppState {
        core,
        metrics: Arc::new(metrics::Metrics::new()),
        tokens: Arc::new(TokenCache::default()),
        rate: Arc::new(state::RateLimiter::default()),
        schema_checked_ms: Arc::new(AtomicU64::new(0)),
        max_body_bytes: opts.max_body_bytes,
        started: tokio::time::Instant::now(),
    };
    let (api, public, doc) = documented_routes();
    let doc_json = Arc::new(doc.to_json().unwrap_or_default());
    let docs_html = Arc::new(system::docs_page(
        &serde_json::from_str(&doc_json).unwrap_or_default(),
    ));

    let api = api
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        (*doc).clone(),
                    )
                }
            }),
        )
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(from_fn_with_state(state.clone(), middleware::authenticate));

    Router::new()
        .merge(api)
        .merge(public)
        .route("/metrics", get(system::metrics))
        .route(
            "/docs",
            get(move || {
                let html = docs_html.clone();
                async move { Html((*html).clone()) }
            }),
        )
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .with_state(state.clone())
        .merge(pages)
        .layer(from_fn_with_state(state.clone(), middleware::metrics))
        .layer(from_fn(middleware::locale))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::info_span!("request", request_id = %middleware::request_id_of(req), method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(middleware::RequestIds::new()))
        .layer(DefaultBodyLimit::max(opts.max_body_bytes))
}
