//! List views of every object: columns from metadata (or chosen), sort by any indexed field,
//! a filter builder over the filter language, a capped count, keyset paging that costs the
//! same on page 1 and page 20,000, bulk actions, and the recycle bin.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Value as Json, json};

use relata_core::CoreError;
use relata_core::fields;
use relata_core::records::{Bin, ListRequest};
use relata_domain::Record;
use relata_domain::access::Operation;
use relata_domain::filter::{Filter, Op, allowed_ops};
use relata_domain::meta::{FieldDef, FieldType, ObjectDef};

use super::cells::{Cell, Names, cell};
use super::inputs::field_error_text;
use super::{Chrome, html, readable_object};
use crate::error::WebError;
use crate::session::Viewer;
use crate::state::WebState;

/// Rows of the filter builder shown (each AND-ed).
const FILTER_ROWS: usize = 4;
/// Counting stops here: "10,000+" answers as well as an exact count of a million rows, and
/// costs a bounded read.
const COUNT_CAP: u64 = 10_000;
const PAGE_SIZE: usize = 50;
/// Columns of a list unless the user chose others.
const DEFAULT_COLUMNS: usize = 6;

pub struct Column {
    pub name: String,
    pub label: String,
    /// The link that sorts by this column (none when it cannot be sorted fast).
    pub sort_href: Option<String>,
    /// `asc`, `desc` or empty.
    pub sorted: &'static str,
    pub numeric: bool,
}

pub struct ViewLink {
    pub id: String,
    pub name: String,
    pub href: String,
    pub shared: bool,
    pub mine: bool,
    pub current: bool,
}

pub struct Row {
    pub id: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Default)]
pub struct FilterRow {
    pub field: String,
    pub op: String,
    pub value: String,
    /// The id a lookup's typed name stands for.
    pub resolved: Option<String>,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    chrome: Chrome,
    object: String,
    heading: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    count_text: String,
    next_href: Option<String>,
    first_href: Option<String>,
    filter_rows: Vec<FilterRow>,
    condition: String,
    /// Static lists of the object the ticked records may be added to: (id, name).
    static_lists: Vec<(String, String)>,
    field_options: Vec<(String, String)>,
    op_options: Vec<(String, String)>,
    column_options: Vec<(String, String, bool)>,
    sort: String,
    error: Option<String>,
    filtered: bool,
    bin: bool,
    can_create: bool,
    can_edit: bool,
    can_delete: bool,
    can_import: bool,
    /// The object has a picklist to show as a board.
    has_board: bool,
    /// Downloads of this view: (format, label, href); empty without export permission.
    exports: Vec<(String, String, String)>,
    views: Vec<ViewLink>,
    /// This list's query, to save as a view.
    view_query: String,
    all_href: String,
    viewing_saved: bool,
    clear_href: String,
    here: String,
}

/// The state of a list view in its URL.
#[derive(Debug, Clone, Default)]
struct ListState {
    rows: Vec<FilterRow>,
    /// A condition in the compact form of the filter language, with the rows: for what the
    /// rows cannot say (`tagged VIP`, `in_list …`, `has opportunity (amount gt 100000)`).
    condition: String,
    /// Why `condition` does not parse.
    condition_error: Option<String>,
    sort: Option<String>,
    cols: Option<String>,
    cursor: Option<String>,
}

impl ListState {
    fn from_query(pairs: &[(String, String)]) -> ListState {
        let mut q: HashMap<String, String> = HashMap::new();
        let mut chosen: Vec<&str> = Vec::new();
        for (k, v) in pairs {
            if k == "col" {
                chosen.push(v);
            } else {
                q.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if !chosen.is_empty() {
            q.insert("cols".into(), chosen.join(","));
        }
        let rows = (0..FILTER_ROWS)
            .map(|i| FilterRow {
                field: q.get(&format!("f{i}")).cloned().unwrap_or_default(),
                op: q.get(&format!("o{i}")).cloned().unwrap_or_default(),
                value: q.get(&format!("v{i}")).cloned().unwrap_or_default(),
                resolved: None,
            })
            .collect();
        let nonempty = |k: &str| q.get(k).filter(|s| !s.is_empty()).cloned();
        ListState {
            rows,
            condition: q.get("q").map(|s| s.trim().to_owned()).unwrap_or_default(),
            condition_error: None,
            sort: nonempty("sort"),
            cols: nonempty("cols"),
            cursor: nonempty("cursor"),
        }
    }

    fn active_rows(&self) -> impl Iterator<Item = &FilterRow> {
        self.rows
            .iter()
            .filter(|r| !r.field.is_empty() && !r.op.is_empty())
    }

    /// The URL of this view with another sort or cursor.
    fn href(&self, base: &str, sort: Option<&str>, cursor: Option<&str>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (i, r) in self.active_rows().enumerate() {
            q.append_pair(&format!("f{i}"), &r.field);
            q.append_pair(&format!("o{i}"), &r.op);
            q.append_pair(&format!("v{i}"), &r.value);
        }
        if !self.condition.is_empty() {
            q.append_pair("q", &self.condition);
        }
        if let Some(s) = sort.or(self.sort.as_deref()) {
            q.append_pair("sort", s);
        }
        if let Some(c) = &self.cols {
            q.append_pair("cols", c);
        }
        if let Some(c) = cursor {
            q.append_pair("cursor", c);
        }
        let q = q.finish();
        if q.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{q}")
        }
    }
}

/// Fields a list may show and filter on: readable, and not the id.
fn listable<'a>(viewer: &Viewer, object: &'a ObjectDef) -> Vec<&'a FieldDef> {
    object
        .live_fields()
        .filter(|f| f.name() != "id" && f.name() != "version")
        .filter(|f| fields::readable(&viewer.actor, object, f.name()))
        .collect()
}

fn default_columns<'a>(object: &'a ObjectDef, listable: &[&'a FieldDef]) -> Vec<&'a FieldDef> {
    let mut cols: Vec<&FieldDef> = listable
        .iter()
        .copied()
        .filter(|f| f.name() == object.name_field.as_str())
        .collect();
    cols.extend(
        listable
            .iter()
            .copied()
            .filter(|f| !f.system && f.name() != object.name_field.as_str())
            .filter(|f| !matches!(f.field_type, FieldType::LongText | FieldType::MultiPicklist))
            .take(DEFAULT_COLUMNS - 1),
    );
    if let Some(owner) = listable.iter().find(|f| f.name() == "owner_id") {
        cols.push(owner);
    }
    cols
}

/// A filter-builder row as a condition; `None` when it is incomplete.
fn condition(viewer: &Viewer, field: &FieldDef, row: &FilterRow) -> Option<Filter> {
    let op = Op::parse(&row.op)?;
    let raw = row.resolved.as_deref().unwrap_or(row.value.trim());
    let typed = |s: &str| -> Json {
        match field.field_type {
            FieldType::Integer => s
                .replace(',', "")
                .parse::<i64>()
                .map_or_else(|_| json!(s), |n| json!(n)),
            FieldType::Boolean => match s {
                "true" | "yes" | "是" => json!(true),
                "false" | "no" | "否" => json!(false),
                other => json!(other),
            },
            FieldType::UserLookup if s == "me" => json!(viewer.actor.user_id.0.to_string()),
            FieldType::Datetime => viewer
                .fmt
                .parse_datetime_input(s)
                .map_or_else(|| json!(s), |t| json!(t)),
            t if t.is_decimal() || t == FieldType::Currency => json!(s.replace(',', "")),
            _ => json!(s),
        }
    };
    let value = match op {
        Op::IsNull => json!(raw != "false"),
        Op::In => Json::Array(
            raw.split([',', '，'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(typed)
                .collect(),
        ),
        _ if raw.is_empty() => return None,
        _ => typed(raw),
    };
    Some(Filter::Cond {
        field: field.name().to_owned(),
        op,
        value,
    })
}

pub async fn page(
    state: State<WebState>,
    viewer: Viewer,
    path: Path<String>,
    query: RawQuery,
) -> Result<Response, WebError> {
    render(state, viewer, path, query, false).await
}

pub async fn bin(
    state: State<WebState>,
    viewer: Viewer,
    path: Path<String>,
    query: RawQuery,
) -> Result<Response, WebError> {
    render(state, viewer, path, query, true).await
}

/// A filter on a lookup names the record as a person would; it becomes the record's id
/// (or an id that matches nothing when no visible record has that name).
async fn resolve_lookup_rows(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    list: &mut ListState,
) {
    for row in &mut list.rows {
        let Some(field) = object.field(&row.field) else {
            continue;
        };
        let value = row.value.trim();
        let by_name = field.field_type.is_reference()
            && !value.is_empty()
            && value != "me"
            && uuid::Uuid::parse_str(value).is_err()
            && matches!(Op::parse(&row.op), Some(Op::Eq | Op::Ne));
        if by_name {
            let found = super::inputs::find_by_name(state, viewer, field, value).await;
            row.resolved = Some(
                found
                    .first()
                    .copied()
                    .unwrap_or(uuid::Uuid::nil())
                    .to_string(),
            );
        }
    }
}

/// The download formats offered for an object's records.
pub fn export_formats(object: &str) -> &'static [&'static str] {
    if object == "contact" {
        &["csv", "xlsx", "vcf"]
    } else {
        &["csv", "xlsx"]
    }
}

/// The filter of the list view in a URL's query (its filter rows, lookups named by name
/// resolved), and its sort and chosen columns: what a list shows and an export writes.
pub async fn view_of(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    pairs: &[(String, String)],
) -> (Option<Filter>, Option<String>, Option<Vec<String>>) {
    let mut list = ListState::from_query(pairs);
    let filter = filter_of(state, viewer, object, &mut list).await;
    let cols = list
        .cols
        .map(|c| c.split(',').map(|n| n.trim().to_owned()).collect());
    (filter, list.sort, cols)
}

async fn filter_of(
    state: &WebState,
    viewer: &Viewer,
    object: &ObjectDef,
    list: &mut ListState,
) -> Option<Filter> {
    resolve_lookup_rows(state, viewer, object, list).await;
    let listable = listable(viewer, object);
    let mut conditions: Vec<Filter> = list
        .active_rows()
        .filter_map(|r| {
            let f = listable.iter().copied().find(|f| f.name() == r.field)?;
            condition(viewer, f, r)
        })
        .collect();
    if !list.condition.is_empty() {
        match relata_domain::filter::compact::parse(&list.condition) {
            Ok(f) => conditions.push(f),
            Err(e) => {
                list.condition_error = Some(e.message.clone());
                // a condition that does not parse selects nothing, never everything
                conditions.push(Filter::Or(Vec::new()));
            }
        }
    }
    match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(Filter::And(conditions)),
    }
}

async fn render(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    bin: bool,
) -> Result<Response, WebError> {
    let tr = viewer.tr();
    let object = readable_object(&state, &viewer, &name)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let outcome = crate::notice::read(&viewer.csrf, &pairs);
    let current_view = pairs
        .iter()
        .find(|(k, _)| k == "view")
        .map(|(_, v)| v.clone());
    let mut list = ListState::from_query(&pairs);
    let view_filter = filter_of(&state, &viewer, &object, &mut list).await;
    let listable = listable(&viewer, &object);
    let by_name = |n: &str| listable.iter().copied().find(|f| f.name() == n);
    let columns: Vec<&FieldDef> = match &list.cols {
        Some(c) => c.split(',').filter_map(|n| by_name(n.trim())).collect(),
        None => default_columns(&object, &listable),
    };
    let columns = if columns.is_empty() {
        default_columns(&object, &listable)
    } else {
        columns
    };

    let filtered = view_filter.is_some();
    let request = ListRequest {
        filter: view_filter,
        sort: list.sort.clone(),
        limit: Some(PAGE_SIZE),
        cursor: list.cursor.clone(),
        count: true,
        count_cap: Some(COUNT_CAP),
        bin: Some(if bin { Bin::Deleted } else { Bin::Live }),
    };
    let base = if bin {
        format!("/o/{}/bin", object.name())
    } else {
        format!("/o/{}", object.name())
    };
    let (records, next_cursor, total, error) = match state
        .core
        .list_records(&viewer.actor, object.name(), request)
        .await
    {
        Ok((_, page)) => (page.records, page.next_cursor, page.total, None),
        Err(CoreError::Validation(errors)) => (
            Vec::new(),
            None,
            None,
            Some(
                errors
                    .iter()
                    .map(|e| field_error_text(tr, e))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        Err(CoreError::BadRequest { message, .. }) => (Vec::new(), None, None, Some(message)),
        Err(e) => return Err(WebError::core(e, tr)),
    };

    let refs: Vec<&Record> = records.iter().collect();
    let names = Names::resolve(&state, &viewer, &refs, &columns).await;
    let rows = records
        .iter()
        .map(|r| Row {
            id: r.id().map(|id| id.to_string()).unwrap_or_default(),
            cells: columns
                .iter()
                .map(|f| {
                    let mut c = cell(&viewer, &object, f, r, &names);
                    // in the recycle bin the record page is the way to restore
                    if bin && f.name() == object.name_field.as_str() {
                        c.href = r.id().map(|id| format!("/o/{}/{id}", object.name()));
                    }
                    c
                })
                .collect(),
        })
        .collect();

    let (sort_field, descending) = match list.sort.as_deref() {
        Some(s) => match s.strip_prefix('-') {
            Some(n) => (n.to_owned(), true),
            None => (s.to_owned(), false),
        },
        None => (String::new(), false),
    };
    let columns_out = columns
        .iter()
        .map(|f| {
            let sortable = (f.indexed() || matches!(f.name(), "created_at" | "updated_at"))
                && !matches!(f.field_type, FieldType::LongText | FieldType::MultiPicklist);
            let is_sorted = sort_field == f.name();
            let next = if is_sorted && !descending {
                format!("-{}", f.name())
            } else {
                f.name().to_owned()
            };
            Column {
                name: f.name().to_owned(),
                label: tr.field_label(&object, f),
                sort_href: sortable.then(|| list.href(&base, Some(&next), None)),
                sorted: match (is_sorted, descending) {
                    (true, false) => "asc",
                    (true, true) => "desc",
                    _ => "",
                },
                numeric: matches!(
                    f.field_type,
                    FieldType::Integer
                        | FieldType::Decimal
                        | FieldType::Percent
                        | FieldType::Currency
                ),
            }
        })
        .collect();

    let count_text = match total {
        Some(n) if n as u64 >= COUNT_CAP => tr.tf(
            "list.count_more",
            &[("n", &viewer.fmt.integer(COUNT_CAP as i64))],
        ),
        Some(n) => tr.tf("list.count", &[("n", &viewer.fmt.integer(n))]),
        None => String::new(),
    };
    let filterable: Vec<&FieldDef> = listable
        .iter()
        .copied()
        .filter(|f| f.field_type != FieldType::LongText)
        .collect();
    let chosen: Vec<&str> = columns.iter().map(|f| f.name()).collect();
    let mut filter_rows = list.rows.clone();
    filter_rows.resize(FILTER_ROWS, FilterRow::default());
    let heading = if bin {
        tr.tf("list.bin_of", &[("object", &tr.object_plural(&object))])
    } else {
        tr.object_plural(&object)
    };
    let saved = if bin {
        Vec::new()
    } else {
        state
            .core
            .saved_views(&viewer.actor, object.name())
            .await
            .unwrap_or_default()
    };
    let views: Vec<ViewLink> = saved
        .iter()
        .map(|v| ViewLink {
            id: v.id.to_string(),
            name: v.name.clone(),
            href: super::views::view_href(object.name(), &v.query, v.id),
            shared: v.shared,
            mine: v.owner_id == viewer.actor.user_id.0,
            current: current_view.as_deref() == Some(v.id.to_string().as_str()),
        })
        .collect();
    let view_query = list.href("", None, None).trim_start_matches('?').to_owned();
    let page = ListPage {
        chrome: Chrome::new(&state, &viewer, heading.clone(), object.name()).with_notice(outcome),
        object: object.name().to_owned(),
        heading,
        columns: columns_out,
        rows,
        count_text,
        next_href: next_cursor.map(|c| list.href(&base, None, Some(&c))),
        first_href: list.cursor.is_some().then(|| list.href(&base, None, None)),
        filter_rows,
        field_options: filterable
            .iter()
            .map(|f| (f.name().to_owned(), tr.field_label(&object, f)))
            .collect(),
        op_options: [
            Op::Eq,
            Op::Ne,
            Op::Contains,
            Op::StartsWith,
            Op::Gt,
            Op::Gte,
            Op::Lt,
            Op::Lte,
            Op::In,
            Op::IsNull,
        ]
        .iter()
        .filter(|op| {
            filterable
                .iter()
                .any(|f| allowed_ops(f.field_type).contains(op))
        })
        .map(|op| {
            (
                op.as_str().to_owned(),
                tr.t(&format!("op.{}", op.as_str())).to_owned(),
            )
        })
        .collect(),
        column_options: listable
            .iter()
            .map(|f| {
                (
                    f.name().to_owned(),
                    tr.field_label(&object, f),
                    chosen.contains(&f.name()),
                )
            })
            .collect(),
        sort: list.sort.clone().unwrap_or_default(),
        condition: list.condition.clone(),
        static_lists: state
            .core
            .lists(&viewer.actor, Some(object.name()), false)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.kind == relata_core::lists::ListKind::Static)
            .map(|l| (l.id.to_string(), l.name))
            .collect(),
        error: list.condition_error.clone().or(error),
        filtered,
        bin,
        can_create: viewer.actor.may(object.name(), Operation::Create),
        can_edit: viewer.actor.may(object.name(), Operation::Edit),
        can_delete: viewer.actor.may(object.name(), Operation::Delete),
        can_import: viewer.actor.may(object.name(), Operation::Import),
        has_board: object.live_fields().any(|f| {
            f.field_type == FieldType::Picklist
                && fields::readable(&viewer.actor, &object, f.name())
        }),
        exports: if bin || !viewer.actor.may(object.name(), Operation::Export) {
            Vec::new()
        } else {
            let to = list.href(&format!("/o/{}/export", object.name()), None, None);
            let sep = if to.contains('?') { '&' } else { '?' };
            export_formats(object.name())
                .iter()
                .map(|f| {
                    (
                        (*f).to_owned(),
                        tr.t(&format!("export.as_{f}")).to_owned(),
                        format!("{to}{sep}format={f}"),
                    )
                })
                .collect()
        },
        viewing_saved: views.iter().any(|v| v.current),
        views,
        view_query,
        all_href: base.clone(),
        clear_href: base.clone(),
        here: viewer.here.clone(),
    };
    Ok(html(page.render()))
}
