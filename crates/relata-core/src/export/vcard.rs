//! Contacts as vCard 4.0 (RFC 6350), for address books and phones: name, organisation (the
//! account's name) and department, title, email, work and mobile phones, birthday, city,
//! notes. Only fields the reader may read are present in the record, so only those appear.

use relata_domain::{Record, Value};

use super::columns::Names;

/// Appends one contact's vCard to `out`.
pub fn write(out: &mut String, record: &Record, names: &Names) {
    let text = |field: &str| match record.get(field) {
        Value::Text(t) if !t.is_empty() => Some(t.as_str()),
        _ => None,
    };
    line(out, "BEGIN:VCARD");
    line(out, "VERSION:4.0");
    if let Some(id) = record.id() {
        line(out, &format!("UID:urn:uuid:{id}"));
    }
    let full = text("name")
        .map(str::to_owned)
        .or_else(|| {
            let parts: Vec<&str> = [text("last_name"), text("first_name")]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_default();
    // FN is the one property every vCard must have
    line(out, &format!("FN:{}", escape(&full)));
    if text("last_name").is_some() || text("first_name").is_some() {
        line(
            out,
            &format!(
                "N:{};{};;;",
                escape(text("last_name").unwrap_or_default()),
                escape(text("first_name").unwrap_or_default())
            ),
        );
    }
    let account = match record.get("account_id") {
        Value::Ref(id) => names.get("account_id").and_then(|m| m.get(id)),
        _ => None,
    };
    match (account, text("department")) {
        (None, None) => {}
        (a, d) => line(
            out,
            &format!(
                "ORG:{};{}",
                escape(a.map(String::as_str).unwrap_or_default()),
                escape(d.unwrap_or_default())
            ),
        ),
    }
    if let Some(t) = text("title") {
        line(out, &format!("TITLE:{}", escape(t)));
    }
    if let Some(e) = text("email") {
        line(out, &format!("EMAIL;TYPE=work:{}", escape(e)));
    }
    if let Some(p) = text("phone") {
        line(out, &format!("TEL;TYPE=\"work,voice\":{}", escape(p)));
    }
    if let Some(m) = text("mobile") {
        line(out, &format!("TEL;TYPE=\"cell,voice\":{}", escape(m)));
    }
    if let Value::Date(d) = record.get("birthday") {
        line(out, &format!("BDAY:{}", d.format("%Y%m%d")));
    }
    if let Some(c) = text("city") {
        line(out, &format!("ADR;TYPE=work:;;;{};;;", escape(c)));
    }
    if let Some(n) = text("description") {
        line(out, &format!("NOTE:{}", escape(n)));
    }
    if let Value::Datetime(t) = record.get("updated_at") {
        line(out, &format!("REV:{}", t.format("%Y%m%dT%H%M%SZ")));
    }
    line(out, "END:VCARD");
}

/// A property value's text with the characters vCard gives meaning escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded so no line is longer than 75 octets (RFC 6350 3.2),
/// never inside a character: continuation lines start with a space.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_contact_becomes_a_vcard_with_escaped_and_folded_lines() {
        let mut r = Record::default();
        let id = uuid::Uuid::nil();
        r.set("id", Value::Ref(id));
        r.set("name", Value::Text("张伟".into()));
        r.set("last_name", Value::Text("张".into()));
        r.set("first_name", Value::Text("伟".into()));
        r.set("title", Value::Text("采购经理, 华东区".into()));
        r.set("mobile", Value::Text("+8613800001111".into()));
        let account = uuid::Uuid::from_u128(7);
        r.set("account_id", Value::Ref(account));
        r.set("description", Value::Text("很长的备注".repeat(20)));
        let names = HashMap::from([(
            "account_id".to_owned(),
            HashMap::from([(account, "华远科技有限公司".to_owned())]),
        )]);
        let mut out = String::new();
        write(&mut out, &r, &names);
        assert!(out.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"));
        assert!(out.contains("FN:张伟\r\n"));
        assert!(out.contains("N:张;伟;;;\r\n"));
        assert!(out.contains("ORG:华远科技有限公司;\r\n"));
        assert!(out.contains("TITLE:采购经理\\, 华东区\r\n"));
        assert!(out.contains("TEL;TYPE=\"cell,voice\":+8613800001111\r\n"));
        assert!(out.ends_with("END:VCARD\r\n"));
        for l in out.split("\r\n") {
            assert!(l.len() <= 75, "{l}");
        }
        let unfolded = out.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("NOTE:{}", "很长的备注".repeat(20))));
    }
}
