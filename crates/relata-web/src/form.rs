//! Posted HTML forms (`application/x-www-form-urlencoded`), kept as the ordered list of
//! name/value pairs the browser sent: a multi-picklist sends one pair per ticked value, and
//! a checkbox follows a hidden "false" of the same name.

use axum::body::Body;
use axum::http::{HeaderMap, header};

use crate::error::WebError;
use crate::i18n::Tr;

/// The largest form accepted. Record forms are small; a long description fits many times.
const MAX_FORM_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    pub async fn read(headers: &HeaderMap, body: Body, tr: Tr) -> Result<FormData, WebError> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(WebError::BadRequest(
                tr,
                tr.t("error.not_a_form").to_owned(),
            ));
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| WebError::BadRequest(tr, tr.t("error.form_too_large").to_owned()))?;
        Ok(Self::parse(&bytes))
    }

    pub fn parse(bytes: &[u8]) -> FormData {
        FormData {
            pairs: form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// Every pair, in the order sent.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn push(&mut self, name: &str, value: &str) {
        self.pairs.push((name.to_owned(), value.to_owned()));
    }

    /// The first value sent under `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value sent under `name` (a ticked checkbox comes after its hidden "false").
    pub fn last(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent under `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// A trimmed, non-empty value.
    pub fn text(&self, name: &str) -> Option<String> {
        self.first(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_keep_their_order() {
        let f = FormData::parse(b"tags=a&x=%E5%BC%A0%E4%BC%9F&tags=b&flag=false&flag=true");
        assert_eq!(f.all("tags"), vec!["a", "b"]);
        assert_eq!(f.first("x"), Some("张伟"));
        assert_eq!(f.last("flag"), Some("true"));
        assert_eq!(f.first("missing"), None);
    }
}
