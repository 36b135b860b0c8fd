//! Which files may be attached, judged by what they are — their first bytes — not only by
//! what the client says: a program renamed `invoice.pdf` is refused, and a file is always
//! served back with the type its content has.

/// Content types a CRM attaches: documents, spreadsheets, presentations, images, archives,
/// text, mail.
const ALLOWED: &[&str] = &[
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/rtf",
    "application/zip",
    "application/x-7z-compressed",
    "application/gzip",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/heif",
    "audio/mpeg",
    "audio/x-wav",
    "audio/mp4",
    "video/mp4",
    "text/plain",
    "text/csv",
    "message/rfc822",
];

/// Extensions of text formats (no magic bytes) accepted when the content is UTF-8 text.
const TEXT_EXTENSIONS: &[(&str, &str)] = &[
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("md", "text/plain"),
    ("log", "text/plain"),
    ("eml", "message/rfc822"),
];

/// The content type a file is stored and served with, or why it is refused.
pub fn judge(file_name: &str, data: &[u8]) -> Result<&'static str, String> {
    if data.is_empty() {
        return Err("the file is empty".into());
    }
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(kind) = infer::get(data) {
        let mime = kind.mime_type();
        // office files are ZIP containers; infer names the container when it cannot tell
        let mime = match (mime, extension.as_str()) {
            ("application/zip", "docx") => ALLOWED[4],
            ("application/zip", "xlsx") => ALLOWED[5],
            ("application/zip", "pptx") => ALLOWED[6],
            _ => mime,
        };
        return ALLOWED
            .iter()
            .copied()
            .find(|a| *a == mime)
            .ok_or_else(|| format!("files of type {mime} cannot be attached"));
    }
    // no signature: only plain text, by its extension
    let text = std::str::from_utf8(data).is_ok() && !data.contains(&0);
    match TEXT_EXTENSIONS.iter().find(|(e, _)| *e == extension) {
        Some((_, mime)) if text => Ok(mime),
        Some(_) => Err(format!("'{file_name}' is not text")),
        None => Err(format!(
            "'{file_name}' is not a kind of file that can be attached (documents, spreadsheets, presentations, images, archives, text)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_images_pass_and_programs_and_pages_do_not() {
        assert_eq!(judge("报价单.pdf", b"%PDF-1.7\n..."), Ok("application/pdf"));
        assert_eq!(
            judge("logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Ok("image/png")
        );
        assert_eq!(judge("纪要.txt", "会议纪要".as_bytes()), Ok("text/plain"));
        assert!(
            judge("invoice.pdf", b"MZ\x90\0\x03\0\0\0\x04\0").is_err(),
            "a program"
        );
        assert!(judge("x.elf", b"\x7fELF\x02\x01\x01\0").is_err());
        assert!(judge("page.html", b"<html><script>alert(1)</script>").is_err());
        assert!(judge("image.svg", b"<svg onload=alert(1)>").is_err());
        assert!(judge("notes.txt", b"bin\0ary").is_err());
        assert!(judge("empty.txt", b"").is_err());
    }
}
