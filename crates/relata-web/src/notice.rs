//! One-time messages carried by a redirect ("3 of 5 records changed…"). The text travels in
//! the URL of the page redirected to, as `outcome=…&sig=…`, where `sig` is an HMAC of the text
//! keyed by the session's CSRF secret. Only this server, for this session, can make a page show
//! words: a crafted link (`/o/account?outcome=Call+this+number…`) or a shared saved view that
//! kept someone else's message shows nothing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The query parameters a notice uses; never part of a saved view or a "back" link.
pub const PARAMS: [&str; 2] = ["outcome", "sig"];

/// The longest notice shown; a longer one is cut (so a URL stays a sane length).
const MAX_CHARS: usize = 300;

fn mac(secret: &str, message: &str) -> Hmac<Sha256> {
    // HMAC accepts a key of any length: new_from_slice cannot fail for it
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"relata.notice\0");
    mac.update(message.as_bytes());
    mac
}

fn cut(message: &str) -> String {
    message.chars().take(MAX_CHARS).collect()
}

/// `back` (a local path, possibly with a query) with `message` to show once, replacing a
/// notice it already carried. `secret` is the session's CSRF token.
pub fn redirect_with(secret: &str, back: &str, message: &str) -> String {
    let message = cut(message);
    let sig = hex::encode(mac(secret, &message).finalize().into_bytes());
    let (path, query) = back.split_once('?').unwrap_or((back, ""));
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.extend_pairs(
        form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| !PARAMS.contains(&k.as_ref())),
    );
    out.append_pair("outcome", &message);
    out.append_pair("sig", &sig);
    format!("{path}?{}", out.finish())
}

/// The notice of this request's query, when it was signed for this session (`secret`).
pub fn read(secret: &str, pairs: &[(String, String)]) -> Option<String> {
    let param = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let message = param("outcome")?;
    let sig = hex::decode(param("sig")?).ok()?;
    mac(secret, message)
        .verify_slice(&sig)
        .ok()
        .map(|()| cut(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn a_notice_is_shown_to_the_session_it_was_signed_for() {
        let url = redirect_with(
            "session-a",
            "/o/account?sort=name",
            "3 of 5 changed. 名称 重复",
        );
        assert!(url.starts_with("/o/account?sort=name&outcome="));
        let pairs = query_of(&url);
        assert_eq!(
            read("session-a", &pairs).as_deref(),
            Some("3 of 5 changed. 名称 重复")
        );
        assert_eq!(read("session-b", &pairs), None);
    }

    #[test]
    fn a_crafted_or_altered_notice_shows_nothing() {
        let crafted = query_of("/o/account?outcome=Call+555+now");
        assert_eq!(read("session-a", &crafted), None);
        let mut altered = query_of(&redirect_with("session-a", "/o/account", "done"));
        altered[0].1 = "Call 555 now".into();
        assert_eq!(read("session-a", &altered), None);
        let garbage = query_of("/o/account?outcome=x&sig=zz");
        assert_eq!(read("session-a", &garbage), None);
    }

    #[test]
    fn a_new_notice_replaces_the_one_the_page_carried() {
        let first = redirect_with("s", "/o/account?f0=city", "first");
        let second = redirect_with("s", &first, "second");
        let pairs = query_of(&second);
        assert_eq!(pairs.iter().filter(|(k, _)| k == "outcome").count(), 1);
        assert_eq!(pairs.iter().filter(|(k, _)| k == "sig").count(), 1);
        assert_eq!(read("s", &pairs).as_deref(), Some("second"));
        assert!(second.starts_with("/o/account?f0=city&"));
    }

    #[test]
    fn a_long_notice_is_cut_and_still_verifies() {
        let long = "错".repeat(1000);
        let pairs = query_of(&redirect_with("s", "/", &long));
        assert_eq!(
            read("s", &pairs).map(|m| m.chars().count()),
            Some(MAX_CHARS)
        );
    }
}
