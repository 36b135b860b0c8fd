//! Email templates and the pure parts of sending mail: which merge fields a template reads
//! and whether they exist, rendering in a sandbox, and the rewriting of a rendered HTML
//! part for open and click tracking.
//!
//! Templates are Jinja (minijinja): `{{ record.name }}`, `{{ record.account_id.name }}`,
//! `{% if record.title %}…{% endif %}`, filters such as `{{ record.name | upper }}`. The
//! engine is a sandbox: a template cannot read files, include other templates, define
//! macros or call anything but the built-in filters and tests, and each render has a fuel
//! budget, so a loop cannot run away.

use std::collections::BTreeMap;

use crate::error::{FieldError, FieldErrorCode};
use crate::meta::{FieldType, Schema};

/// How many lookups a merge field may follow from the record (`record.a.b.c.name`).
pub const MAX_HOPS: usize = 3;

/// Instructions one render may take (a loop over a long text stops here).
const FUEL: u64 = 50_000;

/// What a template may read besides the record's fields.
pub const SENDER_FIELDS: &[&str] = &["name", "email", "signature"];
pub const RECIPIENT_FIELDS: &[&str] = &["name", "email"];

/// The parts of a template, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateParts {
    pub subject: String,
    pub body_text: String,
    /// The HTML part; without one the mail is plain text.
    pub body_html: Option<String>,
}

impl TemplateParts {
    /// Each part with the name a client knows it by.
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("subject", self.subject.as_str())];
        out.push(("body_text", self.body_text.as_str()));
        if let Some(h) = &self.body_html {
            out.push(("body_html", h.as_str()));
        }
        out
    }
}

/// A merge field: `record.account_id.name` as `["record", "account_id", "name"]`.
pub type MergePath = Vec<String>;

/// The merge fields a template part reads, or the syntax error that stops it.
pub fn merge_fields(source: &str) -> Result<Vec<MergePath>, String> {
    let env = environment(false);
    let template = env.template_from_str(source).map_err(describe)?;
    let mut out: Vec<MergePath> = template
        .undeclared_variables(true)
        .into_iter()
        .map(|v| v.split('.').map(str::to_owned).collect())
        .collect();
    out.sort();
    Ok(out)
}

/// Checks every part of a template for `object`: syntax, and that every merge field
/// exists. Errors name the part and the field (`body_html: unknown merge field …`).
pub fn check(schema: &Schema, object: Option<&str>, parts: &TemplateParts) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let bad =
        |part: &str, message: String| FieldError::new(part, FieldErrorCode::InvalidOption, message);
    if parts.subject.trim().is_empty() {
        errors.push(FieldError::new(
            "subject",
            FieldErrorCode::Required,
            "a template needs a subject",
        ));
    }
    if parts.body_text.trim().is_empty()
        && parts
            .body_html
            .as_deref()
            .is_none_or(|h| h.trim().is_empty())
    {
        errors.push(FieldError::new(
            "body_text",
            FieldErrorCode::Required,
            "a template needs a text or an HTML body",
        ));
    }
    for (name, source) in parts.named() {
        match merge_fields(source) {
            Err(e) => errors.push(bad(name, e)),
            Ok(paths) => {
                for path in paths {
                    if let Err(e) = check_path(schema, object, &path) {
                        errors.push(bad(name, e));
                    }
                }
            }
        }
    }
    errors
}

/// Whether `path` names something a mail about a record of `object` can show.
fn check_path(schema: &Schema, object: Option<&str>, path: &[String]) -> Result<(), String> {
    let joined = path.join(".");
    let unknown = |why: String| Err(format!("unknown merge field {joined}: {why}"));
    match path {
        [one] if one == "unsubscribe_url" || one == "today" => Ok(()),
        [root, field] if root == "sender" && SENDER_FIELDS.contains(&field.as_str()) => Ok(()),
        [root, field] if root == "recipient" && RECIPIENT_FIELDS.contains(&field.as_str()) => {
            Ok(())
        }
        [root, rest @ ..] if root == "record" => {
            let Some(object) = object else {
                return unknown("this template is not tied to an object, so it has no record".into());
            };
            let Some(mut current) = schema.object(object) else {
                return unknown(format!("no object {object}"));
            };
            if rest.is_empty() {
                return unknown("name a field of the record, e.g. record.name".into());
            }
            for (i, name) in rest.iter().enumerate() {
                let Some(field) = current.field(name) else {
                    return unknown(format!("{} has no field {name}", current.name()));
                };
                let last = i + 1 == rest.len();
                if field.field_type == FieldType::Lookup {
                    if last {
                        return unknown(format!(
                            "{name} is a lookup: name a field of it, e.g. {joined}.name"
                        ));
                    }
                    if i + 1 > MAX_HOPS {
                        return unknown(format!("a merge field follows at most {MAX_HOPS} lookups"));
                    }
                    let target = field.target.as_ref().map(|t| t.as_str()).unwrap_or_default();
                    let Some(next) = schema.object(target) else {
                        return unknown(format!("no object {target}"));
                    };
                    current = next;
                } else if !last {
                    return unknown(format!("{name} is not a lookup"));
                }
            }
            Ok(())
        }
        _ => unknown(
            "a template reads record.<field>, sender.name/email/signature, recipient.name/email, unsubscribe_url and today".into(),
        ),
    }
}

/// The values a render reads, by merge path; nested into objects for the engine.
#[derive(Debug, Clone, Default)]
pub struct MergeValues {
    values: BTreeMap<MergePath, (String, bool)>,
}

impl MergeValues {
    pub fn set(&mut self, path: MergePath, value: String) {
        self.values.insert(path, (value, false));
    }

    /// A value Relata made itself (an address of its own): not escaped in HTML, so a
    /// template's `href="{{ unsubscribe_url }}"` is the address as it is.
    pub fn set_trusted(&mut self, path: MergePath, value: String) {
        self.values.insert(path, (value, true));
    }

    fn context(&self) -> minijinja::Value {
        #[derive(Default)]
        struct Node {
            value: Option<(String, bool)>,
            children: BTreeMap<String, Node>,
        }
        fn to_value(node: &Node) -> minijinja::Value {
            if node.children.is_empty() {
                return match node.value.clone() {
                    Some((v, true)) => minijinja::Value::from_safe_string(v),
                    Some((v, false)) => minijinja::Value::from(v),
                    None => minijinja::Value::from(""),
                };
            }
            let map: BTreeMap<String, minijinja::Value> = node
                .children
                .iter()
                .map(|(k, n)| (k.clone(), to_value(n)))
                .collect();
            minijinja::Value::from(map)
        }
        let mut root = Node::default();
        for (path, value) in &self.values {
            let mut node = &mut root;
            for segment in path {
                node = node.children.entry(segment.clone()).or_default();
            }
            node.value = Some(value.clone());
        }
        to_value(&root)
    }
}

/// Renders one part. `html`: values are escaped for HTML. A merge field without a value
/// renders empty (a record's empty field, or one hidden from the sender).
pub fn render(source: &str, values: &MergeValues, html: bool) -> Result<String, String> {
    let env = environment(html);
    let template = env.template_from_str(source).map_err(describe)?;
    template.render(values.context()).map_err(describe)
}

fn environment(html: bool) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(50);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(move |_| {
        if html {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env
}

fn describe(e: minijinja::Error) -> String {
    let what = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    match e.line() {
        Some(line) => format!("{what} (line {line})"),
        None => what,
    }
}

/// A rendered HTML part with its links sent through the tracker: each `href="http…"`
/// becomes `link(n)`; the original addresses come back in order. The unsubscribe link is
/// left alone (a click on it is not a click on the mail's content).
pub fn track_links(
    html: &str,
    keep: &str,
    link: impl Fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(html.len());
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(at) = find_href(rest) {
        let (before, after) = rest.split_at(at.start);
        out.push_str(before);
        let quote = at.quote;
        let value_start = at.value_start - at.start;
        let Some(len) = after[value_start..].find(quote) else {
            out.push_str(after);
            return (out, links);
        };
        let url = &after[value_start..value_start + len];
        // the address as written, and as the HTML escaping of a merge field writes it
        let plain = url
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        out.push_str(&after[..value_start]);
        if (plain.starts_with("http://") || plain.starts_with("https://")) && plain != keep {
            links.push(plain);
            out.push_str(&link(links.len() - 1));
        } else {
            out.push_str(url);
        }
        rest = &after[value_start + len..];
    }
    out.push_str(rest);
    (out, links)
}

struct Href {
    start: usize,
    value_start: usize,
    quote: char,
}

/// The next `href=` attribute with a quoted value (case-insensitive).
fn find_href(s: &str) -> Option<Href> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("href") {
        let start = from + i;
        let mut j = start + 4;
        let bytes = lower.as_bytes();
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'=' {
            j += 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < bytes.len() && (bytes[j] == b'"' || bytes[j] == b'\'') {
                return Some(Href {
                    start,
                    value_start: j + 1,
                    quote: bytes[j] as char,
                });
            }
        }
        from = start + 4;
    }
    None
}

/// The HTML part with an invisible image that tells when the mail is opened.
pub fn add_open_pixel(html: &str, url: &str) -> String {
    let pixel = format!(r#"<img src="{url}" width="1" height="1" alt="" style="display:none">"#);
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{pixel}{}", &html[..at], &html[at..]),
        None => format!("{html}{pixel}"),
    }
}

/// A plain-text rendering of an HTML part, for a template written only in HTML: tags go,
/// blocks and breaks become new lines, entities are read.
pub fn text_of_html(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let raw = &rest[open + 1..open + close];
        let closing = raw.starts_with('/');
        let tag = raw.trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "table"
        ) {
            out.push('\n');
        }
        if !closing && (name == "style" || name == "script") {
            let end = format!("</{name}");
            let after = &rest[open + close + 1..];
            rest = match after.to_ascii_lowercase().find(&end) {
                Some(e) => &after[e..],
                None => "",
            };
            continue;
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    let mut lines: Vec<&str> = decoded.lines().map(str::trim).collect();
    lines.dedup_by(|a, b| a.is_empty() && b.is_empty());
    lines.join("\n").trim().to_owned()
}

/// An address as the suppression list keeps it: trimmed, lower case. `None` when it is not
/// an address.
pub fn normalize_address(address: &str) -> Option<String> {
    let a = address.trim().to_lowercase();
    let (local, domain) = a.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',');
    ok.then_some(a)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn schema() -> Schema {
        Schema::new(crate::standard::standard_objects(), 1)
    }

    fn parts(subject: &str, text: &str, html: Option<&str>) -> TemplateParts {
        TemplateParts {
            subject: subject.into(),
            body_text: text.into(),
            body_html: html.map(str::to_owned),
        }
    }

    #[test]
    fn merge_fields_are_found_through_conditions_and_filters() {
        let paths = merge_fields(
            "Dear {{ record.name | title }}{% if record.account_id.name %} of {{ record.account_id.name }}{% endif %}, {{ sender.name }}",
        )
        .unwrap();
        let joined: Vec<String> = paths.iter().map(|p| p.join(".")).collect();
        assert_eq!(
            joined,
            ["record.account_id.name", "record.name", "sender.name"]
        );
    }

    #[test]
    fn unknown_fields_and_syntax_errors_name_the_part() {
        let errors = check(
            &schema(),
            Some("contact"),
            &parts(
                "Hello {{ record.nmae }}",
                "{% if record.name %}unclosed",
                Some(
                    "<p>{{ record.account_id }}</p><p>{{ record.account_id.parent_id.parent_id.parent_id.name }}</p>{{ secret }}",
                ),
            ),
        );
        let text: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        assert_eq!(errors.len(), 5, "{text:#?}");
        assert!(
            text[0]
                .starts_with("subject: unknown merge field record.nmae: contact has no field nmae"),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("body_text: syntax error"),
            "{}",
            text[1]
        );
        assert!(text[1].contains("line 1"), "{}", text[1]);
        assert!(
            text.iter().any(|t| t.contains("account_id is a lookup")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains("at most 3 lookups")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("unknown merge field secret")),
            "{text:#?}"
        );
        let ok = check(
            &schema(),
            Some("contact"),
            &parts(
                "{{ record.account_id.name }}",
                "{{ recipient.name }} {{ unsubscribe_url }} {{ today }}",
                None,
            ),
        );
        assert!(ok.is_empty(), "{ok:?}");
        let none = check(&schema(), None, &parts("{{ record.name }}", "x", None));
        assert!(
            none[0].message.contains("not tied to an object"),
            "{none:?}"
        );
    }

    #[test]
    fn rendering_escapes_html_but_not_text() {
        let mut v = MergeValues::default();
        v.set(vec!["record".into(), "name".into()], "Tom & <Jerry>".into());
        v.set(
            vec!["record".into(), "account_id".into(), "name".into()],
            "上海华东贸易".into(),
        );
        let text = render(
            "{{ record.name }} @ {{ record.account_id.name }}{{ record.missing }}",
            &v,
            false,
        )
        .unwrap();
        assert_eq!(text, "Tom & <Jerry> @ 上海华东贸易");
        let html = render("<b>{{ record.name }}</b>", &v, true).unwrap();
        assert_eq!(html, "<b>Tom &amp; &lt;Jerry&gt;</b>");
        v.set_trusted(
            vec!["unsubscribe_url".into()],
            "https://crm/m/t/unsubscribe".into(),
        );
        v.set(
            vec!["record".into(), "website".into()],
            "https://acme.cn/a".into(),
        );
        let html = render(
            r#"<a href="{{ unsubscribe_url }}">u</a><a href="{{ record.website }}">w</a>"#,
            &v,
            true,
        )
        .unwrap();
        assert!(
            html.starts_with(r#"<a href="https://crm/m/t/unsubscribe">"#),
            "{html}"
        );
        let (_, links) = track_links(&html, "https://crm/m/t/unsubscribe", |n| n.to_string());
        assert_eq!(
            links,
            ["https://acme.cn/a"],
            "a merged address is tracked too"
        );
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let e = render(
            "{% for i in range(100000) %}{{ i }}{% endfor %}",
            &MergeValues::default(),
            false,
        )
        .unwrap_err();
        assert!(e.contains("fuel"), "{e}");
        // no way out of the sandbox: includes name no loader
        assert!(
            render(
                "{% include '/etc/passwd' %}",
                &MergeValues::default(),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn links_go_through_the_tracker_except_unsubscribe() {
        let html = r#"<a href="https://example.com/a?x=1&amp;y=2">A</a> <a HREF='mailto:x@y.z'>m</a> <a href = "http://u/unsub">u</a>"#;
        let (out, links) = track_links(html, "http://u/unsub", |n| format!("https://t/c/{n}"));
        assert_eq!(links, ["https://example.com/a?x=1&y=2"]);
        assert_eq!(
            out,
            r#"<a href="https://t/c/0">A</a> <a HREF='mailto:x@y.z'>m</a> <a href = "http://u/unsub">u</a>"#
        );
        assert!(
            add_open_pixel("<html><body>x</body></html>", "https://t/o.gif")
                .contains(r#"x<img src="https://t/o.gif""#)
        );
    }

    #[test]
    fn html_reads_as_text() {
        let t = text_of_html("<style>p{}</style><p>Hello &amp; welcome</p><p>Line<br>two</p>");
        assert_eq!(t, "Hello & welcome\n\nLine\ntwo");
    }

    #[test]
    fn addresses_are_normalized() {
        assert_eq!(
            normalize_address(" Li.Lei@Example.COM ").as_deref(),
            Some("li.lei@example.com")
        );
        assert_eq!(normalize_address("nobody"), None);
        assert_eq!(normalize_address("a@b"), None);
        assert_eq!(normalize_address("a b@c.d"), None);
    }
}
