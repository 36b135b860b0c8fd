//! A browser-like client of the web UI for HTML-level tests: keeps cookies, does not follow
//! redirects (tests look at them), posts forms, and reads the CSRF token off a page.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A page or redirect, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    /// The value of the first `name="<name>" value="…"` hidden input (attribute order as our
    /// templates write it).
    pub fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker)? + marker.len();
        let end = self.html[start..].find('"')? + start;
        Some(unescape(&self.html[start..end]))
    }

    pub fn csrf(&self) -> String {
        self.hidden("_csrf")
            .unwrap_or_else(|| panic!("no CSRF token on the page (status {})", self.status))
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "expected {status}, got {} (location {:?}): {}",
            self.status,
            self.location,
            head(&self.html, 3000)
        );
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.html.contains(needle),
            "the page does not contain {needle:?}: {}",
            head(&self.html, 4000)
        );
        self
    }

    #[track_caller]
    pub fn assert_not_contains(&self, needle: &str) -> &Self {
        assert!(
            !self.html.contains(needle),
            "the page contains {needle:?}: {}",
            head(&self.html, 4000)
        );
        self
    }
}

/// The first `bytes` of `s` (less, to end on a whole character), for failure messages.
fn head(s: &str, bytes: usize) -> &str {
    let mut end = bytes.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// One browser: its own cookie jar.
#[derive(Clone)]
pub struct WebSession {
    base: String,
    http: reqwest::Client,
    cookies: Arc<Mutex<BTreeMap<String, String>>>,
}

impl WebSession {
    pub fn new(base: &str) -> WebSession {
        WebSession {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            cookies: Arc::default(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), value.to_owned());
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for c in headers.get_all(reqwest::header::SET_COOKIE) {
            let Some((pair, attrs)) = c
                .to_str()
                .ok()
                .map(|c| c.split_once(';').unwrap_or((c, "")))
            else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                let mut jar = self.cookies.lock().unwrap_or_else(|p| p.into_inner());
                if attrs.contains("Max-Age=0") || v.is_empty() {
                    jar.remove(k.trim());
                } else {
                    jar.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let html = response.text().await.unwrap_or_default();
        Page {
            status,
            location,
            headers,
            html,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.read(response).await
    }

    /// Posts `fields` as a form, exactly as given (add `_csrf` yourself).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .expect("POST");
        self.read(response).await
    }

    /// Posts `fields` and one file as `multipart/form-data`, as a browser sends a form with
    /// a file input (fields first, in order; add `_csrf` yourself).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> Page {
        let (field, file_name, data) = file;
        let boundary = format!("----relata-test-{}", uuid::Uuid::new_v4().simple());
        let mut body: Vec<u8> = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        // browsers write the name as UTF-8 with quotes escaped
        let quoted = file_name.replace('"', "%22");
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{quoted}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST multipart");
        self.read(response).await
    }

    /// Uploads a file through the form of page `from` (its CSRF token first, then the file
    /// as the `file` field).
    pub async fn upload(&self, from: &str, path: &str, file_name: &str, data: &[u8]) -> Page {
        let csrf = self.get(from).await.csrf();
        self.post_multipart(path, &[("_csrf", &csrf)], ("file", file_name, data))
            .await
    }

    /// Posts a form with this session's CSRF token, read from `from` first.
    pub async fn submit(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Signs in through the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let token = form.hidden("_login").expect("login token");
        self.post(
            "/login",
            &[
                ("_login", token.as_str()),
                ("next", "/"),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}
