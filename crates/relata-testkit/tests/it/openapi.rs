//! The OpenAPI document at `/api/v1/openapi.json`: behind a token, OpenAPI 3.1, every endpoint
//! of the API with exactly its methods, errors documented as problem+json, every documented
//! route really served — and its whole text pinned by a snapshot. After a deliberate API change:
//! `INSTA_UPDATE=always cargo test -p relata-testkit --test it openapi`, then review the diff
//! of `tests/it/snapshots/it__openapi__openapi.snap`.

use crate::common;

use common::{add_field, id_of};
use relata_testkit::TestApp;
use reqwest::Method;
use serde_json::{Value as Json, json};

/// The endpoints the API promises (docs/api.md), with their methods.
const ENDPOINTS: &[(&str, &[&str])] = &[
    ("/api/v1/meta/objects", &["get", "post"]),
    ("/api/v1/meta/objects/{object}", &["get"]),
    ("/api/v1/meta/objects/{object}/fields", &["post"]),
    (
        "/api/v1/meta/objects/{object}/fields/{field}",
        &["patch", "delete"],
    ),
    ("/api/v1/records/{object}", &["get", "post"]),
    ("/api/v1/records/{object}/{id}", &["get", "patch", "delete"]),
    ("/api/v1/records/{object}/{id}/restore", &["post"]),
    ("/api/v1/records/{object}/{id}/history", &["get"]),
    ("/api/v1/records/{object}/{id}/timeline", &["get"]),
    ("/api/v1/records/{object}/{id}/merge", &["get", "post"]),
    ("/api/v1/records/{object}/{id}/merges", &["get"]),
    ("/api/v1/merges/{id}/undo", &["post"]),
    ("/api/v1/records/{object}/{id}/hierarchy", &["get"]),
    ("/api/v1/records/{object}/{id}/decision_chain", &["get"]),
    ("/api/v1/records/{object}/quality", &["get"]),
    (
        "/api/v1/records/{object}/{id}/attachments",
        &["get", "post"],
    ),
    ("/api/v1/attachments/{id}", &["get", "delete"]),
    ("/api/v1/records/{object}/{id}/quality", &["get"]),
    ("/api/v1/tags", &["get"]),
    ("/api/v1/duplicate_jobs", &["get", "post"]),
    ("/api/v1/duplicate_jobs/{id}", &["get"]),
    ("/api/v1/duplicate_jobs/{id}/groups", &["get"]),
    ("/api/v1/duplicate_groups/{id}/merge", &["post"]),
    ("/api/v1/duplicate_groups/{id}/dismiss", &["post"]),
    ("/api/v1/duplicate_groups/merge", &["post"]),
    (
        "/api/v1/meta/objects/{object}/matching_rule",
        &["get", "put", "delete"],
    ),
    ("/api/v1/leads/{id}/conversion", &["get"]),
    ("/api/v1/leads/{id}/convert", &["post"]),
    ("/api/v1/leads/conversion_map", &["get", "put", "delete"]),
    ("/api/v1/dashboards/sales", &["get"]),
    ("/api/v1/opportunities/{id}/stages", &["get"]),
    ("/api/v1/pipelines", &["get"]),
    ("/api/v1/pipelines/{name}", &["get", "put", "delete"]),
    ("/api/v1/pipelines/{name}/board", &["get"]),
    ("/api/v1/pipelines/{name}/board/{stage}", &["get"]),
    ("/api/v1/approval-processes", &["get", "post"]),
    ("/api/v1/approval-processes/{id}", &["put", "delete"]),
    ("/api/v1/approvals", &["get", "post"]),
    ("/api/v1/approvals/{id}", &["get"]),
    ("/api/v1/approvals/{id}/approve", &["post"]),
    ("/api/v1/approvals/{id}/reject", &["post"]),
    ("/api/v1/approvals/{id}/recall", &["post"]),
    ("/api/v1/quotes/{id}/revise", &["post"]),
    ("/api/v1/quotes/{id}/pdf", &["get"]),
    ("/api/v1/quotes/{id}/send", &["post"]),
    ("/api/v1/opportunities/{id}/contract", &["post"]),
    ("/api/v1/quotes/{id}/contract", &["post"]),
    ("/api/v1/receivables", &["get"]),
    ("/api/v1/reports/sales", &["get"]),
    ("/api/v1/settings/collection", &["get", "put"]),
    ("/api/v1/targets", &["get", "post"]),
    ("/api/v1/targets/{id}", &["delete"]),
    ("/api/v1/forecast", &["get"]),
    ("/api/v1/forecast/adjustments", &["post"]),
    ("/api/v1/forecast/history", &["get"]),
    ("/api/v1/forecast/trend", &["get"]),
    ("/api/v1/pools", &["get", "post"]),
    ("/api/v1/pools/{id}", &["get", "put", "delete"]),
    ("/api/v1/pools/{id}/claim", &["post"]),
    ("/api/v1/pools/{id}/assign", &["post"]),
    ("/api/v1/pools/{id}/add", &["post"]),
    ("/api/v1/pools/return", &["post"]),
    ("/api/v1/records/{object}/{id}/pool_history", &["get"]),
    ("/api/v1/tags/{id}", &["patch", "delete"]),
    ("/api/v1/tags/{id}/remove", &["post"]),
    ("/api/v1/records/{object}/tags", &["post"]),
    ("/api/v1/records/{object}/{id}/tags", &["get", "post"]),
    ("/api/v1/records/{object}/{id}/tags/{tag_id}", &["delete"]),
    ("/api/v1/lists", &["get", "post"]),
    ("/api/v1/lists/{id}", &["get", "patch", "delete"]),
    ("/api/v1/lists/{id}/members", &["post"]),
    ("/api/v1/lists/{id}/members/remove", &["post"]),
    ("/api/v1/records/{object}/bulk", &["post"]),
    ("/api/v1/records/{object}/aggregate", &["get"]),
    ("/api/v1/records/{object}/export", &["get"]),
    ("/api/v1/records/{object}/duplicates", &["post"]),
    ("/api/v1/records/{object}/{id}/duplicates", &["get"]),
    ("/api/v1/imports", &["get", "post"]),
    ("/api/v1/jobs", &["get", "post"]),
    ("/api/v1/jobs/{id}", &["get"]),
    ("/api/v1/jobs/{id}/retry", &["post"]),
    ("/api/v1/jobs/{id}/cancel", &["post"]),
    ("/api/v1/schedules", &["get"]),
    ("/api/v1/schedules/{name}", &["put"]),
    ("/api/v1/webhooks", &["get", "post"]),
    ("/api/v1/webhooks/{id}", &["get", "put", "delete"]),
    ("/api/v1/webhooks/{id}/deliveries", &["get"]),
    ("/api/v1/webhook_deliveries/{id}/replay", &["post"]),
    ("/api/v1/workflow_rules", &["get", "post"]),
    ("/api/v1/workflow_rules/{id}", &["get", "put", "delete"]),
    ("/api/v1/workflow_rules/{id}/versions", &["get"]),
    ("/api/v1/workflow_rules/{id}/test", &["post"]),
    ("/api/v1/workflow_rules/{id}/start", &["post"]),
    ("/api/v1/workflow_runs", &["get"]),
    ("/api/v1/workflow_runs/{id}", &["get"]),
    ("/api/v1/records/{object}/{id}/workflows", &["get"]),
    ("/api/v1/workflow_backlog", &["get"]),
    ("/api/v1/workflow_rules/{id}/inbound_token", &["post"]),
    ("/api/v1/hooks/workflows/{token}", &["post"]),
    ("/api/v1/assignment_rules", &["get", "post"]),
    ("/api/v1/assignment_rules/{id}", &["get", "put", "delete"]),
    ("/api/v1/assignment_rules/{id}/assign", &["post"]),
    ("/api/v1/web_forms", &["get", "post"]),
    ("/api/v1/web_forms/{id}", &["get", "put", "delete"]),
    ("/api/v1/public/forms/{key}", &["get", "post"]),
    ("/api/v1/users/{id}/away", &["put", "delete"]),
    ("/api/v1/imports/{id}", &["get"]),
    ("/api/v1/imports/{id}/preview", &["get"]),
    ("/api/v1/imports/{id}/start", &["post"]),
    ("/api/v1/imports/{id}/cancel", &["post"]),
    ("/api/v1/imports/{id}/undo", &["post"]),
    ("/api/v1/imports/{id}/rows", &["get"]),
    ("/api/v1/imports/{id}/errors.csv", &["get"]),
    ("/api/v1/meta/objects/{object}/layout", &["put"]),
    ("/api/v1/views/{object}", &["get", "post"]),
    ("/api/v1/views/{object}/{id}", &["delete"]),
    ("/api/v1/me/recent", &["get"]),
    ("/api/v1/me/notifications", &["get"]),
    ("/api/v1/me/notifications/read", &["post"]),
    ("/api/v1/records/{object}/{id}/shares", &["get", "post"]),
    ("/api/v1/records/{object}/{id}/shares/{share}", &["delete"]),
    ("/api/v1/records/{object}/transfer", &["post"]),
    ("/api/v1/changes", &["get"]),
    ("/api/v1/search", &["get"]),
    ("/api/v1/auth/login", &["post"]),
    ("/api/v1/auth/logout", &["post"]),
    ("/api/v1/auth/password_reset", &["post"]),
    ("/api/v1/auth/password_reset/confirm", &["post"]),
    ("/api/v1/setup", &["get", "post"]),
    ("/api/v1/me", &["get", "patch"]),
    ("/api/v1/me/password", &["post"]),
    ("/api/v1/me/sessions", &["get"]),
    ("/api/v1/me/sessions/{id}", &["delete"]),
    ("/api/v1/me/tokens", &["get", "post"]),
    ("/api/v1/me/tokens/{id}", &["delete"]),
    ("/api/v1/admin/users", &["get", "post"]),
    ("/api/v1/admin/users/{id}", &["get", "patch"]),
    ("/api/v1/admin/users/{id}/unlock", &["post"]),
    (
        "/api/v1/admin/users/{id}/permission_sets/{set}",
        &["put", "delete"],
    ),
    ("/api/v1/admin/roles", &["get", "post"]),
    ("/api/v1/admin/roles/{id}", &["put", "delete"]),
    ("/api/v1/admin/teams", &["get", "post"]),
    ("/api/v1/admin/teams/{id}", &["delete"]),
    (
        "/api/v1/admin/teams/{id}/members/{user}",
        &["put", "delete"],
    ),
    ("/api/v1/admin/permission_sets", &["get", "post"]),
    ("/api/v1/admin/permission_sets/{id}", &["put", "delete"]),
    ("/api/v1/admin/sharing_rules", &["get", "post"]),
    ("/api/v1/admin/sharing_rules/{id}", &["delete"]),
    ("/api/v1/admin/objects/{object}/sharing", &["put"]),
    ("/api/v1/admin/audit", &["get"]),
    ("/api/v1/admin/audit/records", &["get"]),
    ("/api/v1/admin/tokens/{id}", &["delete"]),
    ("/api/v1/email_templates", &["get", "post"]),
    ("/api/v1/email_templates/{id}", &["get", "put", "delete"]),
    ("/api/v1/emails", &["post"]),
    ("/api/v1/emails/preview", &["post"]),
    ("/api/v1/emails/{id}", &["get"]),
    ("/api/v1/records/{object}/{id}/emails", &["get"]),
    ("/api/v1/me/email_identities", &["get", "post"]),
    ("/api/v1/me/email_identities/{id}", &["delete"]),
    ("/api/v1/email_suppressions", &["get", "post"]),
    ("/api/v1/email_suppressions/{address}", &["delete"]),
    ("/api/v1/mailboxes", &["get", "post"]),
    ("/api/v1/mailboxes/{id}", &["delete"]),
    ("/api/v1/mailboxes/{id}/sync", &["post"]),
    ("/m/{token}/o.gif", &["get"]),
    ("/m/{token}/c/{n}", &["get"]),
    ("/m/{token}/unsubscribe", &["get", "post"]),
    ("/healthz", &["get"]),
];

/// Operations under /api that need no credential, by design.
const PUBLIC_API: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/password_reset",
    "/api/v1/auth/password_reset/confirm",
    "/api/v1/setup",
    // a workflow rule's secret URL: the token is in the path
    "/api/v1/hooks/workflows/{token}",
    "/api/v1/public/forms/{key}",
];

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn served_document(app: &TestApp) -> Json {
    let r = app.get("/api/v1/openapi.json").await;
    r.assert_status(200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    r.body
}

/// `(path, method, operation)` for every operation of the document.
fn operations(doc: &Json) -> Vec<(String, String, Json)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if HTTP_METHODS.contains(&method.as_str()) {
                ops.push((path.clone(), method.clone(), op.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_needs_a_token() {
    let app = TestApp::spawn().await;
    let r = app.anonymous().get("/api/v1/openapi.json").await;
    r.assert_problem(401, "unauthenticated");
    assert!(!r.text.contains("openapi"), "{}", r.text);
}

#[tokio::test]
async fn it_is_openapi_3_1_with_every_endpoint_and_exactly_its_methods() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "OpenAPI {version}");
    assert_eq!(doc["info"]["title"], "Relata API");

    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in ENDPOINTS {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        let mut documented: Vec<&str> = item
            .as_object()
            .expect("path item")
            .keys()
            .map(String::as_str)
            .filter(|m| HTTP_METHODS.contains(m))
            .collect();
        documented.sort_unstable();
        let mut expected = methods.to_vec();
        expected.sort_unstable();
        assert_eq!(documented, expected, "methods of {path}");
    }
    // nothing undocumented-by-design slipped in, and nothing expected is missing
    let mut all: Vec<&str> = paths.keys().map(String::as_str).collect();
    all.sort_unstable();
    let mut expected: Vec<&str> = ENDPOINTS.iter().map(|(p, _)| *p).collect();
    expected.sort_unstable();
    assert_eq!(all, expected, "documented paths");

    // every operation says what it is and can be found by id
    let mut ids = std::collections::HashSet::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        assert!(ids.insert(id.clone()), "operationId {id} used twice");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path} has no summary"
        );
        // path parameters are declared
        for name in ["object", "id", "field"] {
            if path.contains(&format!("{{{name}}}")) {
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(declared, "{method} {path} does not declare {{{name}}}");
            }
        }
    }
}

#[tokio::test]
async fn authentication_is_documented_as_it_is_enforced() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(
        doc["security"],
        json!([{"bearer": []}]),
        "bearer by default"
    );
    // the health check overrides it with "no requirement", and really is public
    let health = &doc["paths"]["/healthz"]["get"];
    assert_eq!(health["security"], json!([{}]));
    app.anonymous().get("/healthz").await.assert_status(200);
    for (path, method, op) in operations(&doc) {
        if PUBLIC_API.contains(&path.as_str()) {
            assert_eq!(op["security"], json!([{}]), "{method} {path} is public");
            continue;
        }
        if path.starts_with("/api/") {
            assert!(
                op.get("security").is_none(),
                "{method} {path} must not override the bearer requirement"
            );
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} does not document 401"
            );
        }
    }
}

#[tokio::test]
async fn error_responses_are_documented_as_problem_json() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let problem = &doc["components"]["schemas"]["Problem"];
    assert_eq!(problem["type"], "object", "{problem}");
    let required: Vec<&str> = problem["required"]
        .as_array()
        .expect("Problem.required")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    for field in ["type", "title", "status", "code", "detail"] {
        assert!(required.contains(&field), "Problem requires {field}");
    }
    for field in ["errors", "request_id"] {
        assert!(
            problem["properties"].get(field).is_some(),
            "Problem documents {field}"
        );
    }
    let field_problem = &doc["components"]["schemas"]["FieldProblem"]["properties"];
    for field in ["field", "code", "message"] {
        assert!(field_problem.get(field).is_some(), "FieldProblem.{field}");
    }

    let mut error_responses = 0;
    for (path, method, op) in operations(&doc) {
        let responses = op["responses"].as_object().expect("responses");
        let errors: Vec<(&String, &Json)> = responses
            .iter()
            .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
            .collect();
        assert!(
            !errors.is_empty(),
            "{method} {path} documents no error response"
        );
        for (status, response) in errors {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status} has no description"
            );
            if path == "/healthz" {
                // the health check answers its own small JSON even when the database is down
                assert!(response["content"].get("application/json").is_some());
                continue;
            }
            let content = response["content"].as_object().unwrap_or_else(|| {
                panic!("{method} {path} {status} documents no body: {response}")
            });
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "{method} {path} {status}"
            );
            assert_eq!(
                content["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
            error_responses += 1;
        }
    }
    assert!(
        error_responses >= 30,
        "only {error_responses} error responses"
    );

    // and that is what the server sends: a real 404 and a real 422 carry the required members
    let not_found = app.get("/api/v1/records/no_such_object").await;
    not_found.assert_problem(404, "not_found");
    let invalid = app
        .post("/api/v1/records/contact", &json!({"email": "nope"}))
        .await;
    invalid.assert_problem(422, "validation_failed");
    for r in [&not_found, &invalid] {
        for field in &required {
            assert!(r.body.get(*field).is_some(), "{field} missing: {}", r.text);
        }
    }
    for e in invalid.body["errors"].as_array().expect("errors") {
        assert!(e["field"].is_string() && e["code"].is_string() && e["message"].is_string());
    }
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn().await;
    add_field(
        &app,
        "account",
        json!({"api_name": "tax_id", "type": "text", "label": "Tax ID"}),
    )
    .await;
    let id = id_of(&app.create("account", &json!({"name": "Acme"})).await);
    let doc = served_document(&app).await;
    for (template, method, _) in operations(&doc) {
        let path = template
            .replace("{object}", "account")
            .replace("{id}", &id)
            .replace("{field}", "tax_id");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let body = matches!(m, Method::POST | Method::PATCH).then(|| json!({}));
        let r = app.send(m, &path, body.as_ref(), &[]).await;
        assert!(
            r.body["code"] != "route_not_found" && r.body["code"] != "method_not_allowed",
            "{method} {template} is documented but not served: {}",
            r.text
        );
        assert!(r.status < 500, "{method} {template}: {}", r.text);
    }
}

#[tokio::test]
async fn the_document_matches_its_snapshot() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    // The served text is the document built from the route table, whatever the backend or port.
    assert_eq!(
        doc,
        serde_json::to_value(relata_api::openapi()).expect("document as JSON")
    );
    assert!(
        doc.get("servers").is_none(),
        "no server address is baked in"
    );
    assert!(!doc.to_string().contains(&format!(":{}", app.addr.port())));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // the version changes with every release; the shape of the API must not change by accident
    insta::assert_json_snapshot!("openapi", doc, {".info.version" => "[version]"});
}
