//! Person names and emails for matching. Chinese names are compared character by character
//! ("张伟" and "张 伟" are one name; "张伟" and "张伟明" are close, not equal). Latin names are
//! compared as a set of words, so "Zhang Wei", "wei zhang" and "WEI, Zhang" are one name and
//! "Jon Smith" is close to "John Smith". Emails compare lower-cased and without a "+tag".

use crate::search_terms::normalize;

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// The matching key of a person's name: CJK characters without spaces or dots between them;
/// Latin words lower-cased and sorted.
pub fn name_key(name: &str) -> String {
    let folded = normalize(name);
    if folded.chars().any(is_cjk) {
        return folded
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '.' | '-'))
            .collect();
    }
    let mut words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.join(" ")
}

/// How alike two person names are, from 0 to 1 (Jaro-Winkler over the keys).
pub fn name_similarity(a: &str, b: &str) -> f64 {
    key_similarity(&name_key(a), &name_key(b))
}

/// [`name_similarity`] of two names already in their [`name_key`] form.
pub fn key_similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    strsim::jaro_winkler(a, b)
}

/// The matching form of an email: trimmed, lower-cased, without a "+tag" in the local part
/// (and, for Gmail, without the dots Gmail ignores). `None` when it is no email.
pub fn email_key(email: &str) -> Option<String> {
    let lower = normalize(email);
    let (local, domain) = lower.rsplit_once('@')?;
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_owned()
    };
    (!local.is_empty() && domain.contains('.')).then(|| format!("{local}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_ignore_spacing_and_latin_names_word_order() {
        assert_eq!(name_similarity("张伟", "张 伟"), 1.0);
        assert_eq!(name_similarity("阿卜杜·热合曼", "阿卜杜热合曼"), 1.0);
        assert!(name_similarity("张伟", "张伟明") > 0.8);
        assert!(name_similarity("张伟", "李娜") < 0.5);
        assert_eq!(name_similarity("Zhang Wei", "wei zhang"), 1.0);
        assert_eq!(name_similarity("WEI, Zhang", "Zhang Wei"), 1.0);
        assert!(name_similarity("Jon Smith", "John Smith") > 0.9);
        assert_eq!(name_similarity("", "张伟"), 0.0);
    }

    #[test]
    fn emails_match_without_case_tags_or_gmail_dots() {
        assert_eq!(
            email_key(" Wei.Zhang+crm@Example.COM ").as_deref(),
            Some("wei.zhang@example.com")
        );
        assert_eq!(
            email_key("w.zhang@googlemail.com").as_deref(),
            Some("wzhang@gmail.com")
        );
        assert_eq!(email_key("not an email"), None);
        assert_eq!(email_key("+tag@example.com"), None);
    }
}
