//! Reading a form that uploads one file (multipart: the CSRF token, then the file), shared
//! by the import upload and record attachments.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;

use crate::session::{CSRF_FIELD, Viewer, constant_time_eq};

/// What the form sent.
#[derive(Default)]
pub struct Upload {
    pub csrf: Option<String>,
    pub file_name: String,
    pub data: Vec<u8>,
}

impl Upload {
    /// Whether the form carried the viewer's CSRF token.
    pub fn csrf_ok(&self, viewer: &Viewer) -> bool {
        self.csrf
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), viewer.csrf.as_bytes()))
    }
}

/// Reads the form's parts: an unreadable body is a refusal with its status (413 for a file
/// over the server's body limit), after the CSRF token was read when it came first.
pub async fn read(req: Request) -> Result<Upload, (Upload, StatusCode)> {
    let mut upload = Upload::default();
    let Ok(mut parts) = Multipart::from_request(req, &()).await else {
        return Err((upload, StatusCode::BAD_REQUEST));
    };
    loop {
        let field = match parts.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(upload),
            Err(e) => return Err((upload, e.status())),
        };
        match field.name() {
            Some(CSRF_FIELD) => match field.text().await {
                Ok(t) => upload.csrf = Some(t),
                Err(e) => return Err((upload, e.status())),
            },
            Some("file") => {
                // a browser sends the bare name; an old one the whole path
                upload.file_name = field
                    .file_name()
                    .unwrap_or_default()
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                match field.bytes().await {
                    Ok(b) => upload.data = b.to_vec(),
                    Err(e) => return Err((upload, e.status())),
                }
            }
            _ => {}
        }
    }
}
