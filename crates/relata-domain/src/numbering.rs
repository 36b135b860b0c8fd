//! Numbering rules (编号规则) for documents such as contracts and quotes: a pattern of
//! literal text, date parts and a sequence, e.g. `HT-{YYYY}{MM}-{SEQ:4}` gives
//! `HT-202612-0001`. The sequence counts within one prefix (the text before it), so a
//! pattern with the month in it starts again at 1 every month.

use chrono::{Datelike, NaiveDate};

/// The longest a sequence may be padded to.
const MAX_WIDTH: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Year4,
    Year2,
    Month,
    Day,
}

/// A parsed numbering pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Part>,
    width: usize,
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it. `{SEQ}` (or `{SEQ:n}`, padded
    /// to n digits) must come once, at the end, so numbers of one prefix sort by sequence.
    pub fn parse(pattern: &str) -> Result<Pattern, String> {
        let mut parts = Vec::new();
        let mut width = None;
        let mut rest = pattern;
        while !rest.is_empty() {
            if width.is_some() {
                return Err("{SEQ} must be the last part of the pattern".into());
            }
            let Some(open) = rest.find('{') else {
                parts.push(Part::Text(rest.to_owned()));
                break;
            };
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| "a '{' without its '}'".to_owned())?
                + open;
            let token = &rest[open + 1..close];
            match token {
                "YYYY" => parts.push(Part::Year4),
                "YY" => parts.push(Part::Year2),
                "MM" => parts.push(Part::Month),
                "DD" => parts.push(Part::Day),
                "SEQ" => width = Some(1),
                t => match t.strip_prefix("SEQ:").map(str::parse::<usize>) {
                    Some(Ok(n)) if (1..=MAX_WIDTH).contains(&n) => width = Some(n),
                    Some(_) => return Err(format!("{{{t}}}: the width must be 1–{MAX_WIDTH}")),
                    None => {
                        return Err(format!(
                            "unknown part {{{t}}}: use {{YYYY}}, {{YY}}, {{MM}}, {{DD}} or {{SEQ:n}}"
                        ));
                    }
                },
            }
            rest = &rest[close + 1..];
        }
        let width = width.ok_or_else(|| "the pattern needs {SEQ} (e.g. {SEQ:4})".to_owned())?;
        if parts
            .iter()
            .any(|p| matches!(p, Part::Text(t) if t.contains('}')))
        {
            return Err("a '}' without its '{'".into());
        }
        Ok(Pattern { parts, width })
    }

    /// The text before the sequence on date `on`.
    pub fn prefix(&self, on: NaiveDate) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Year4 => format!("{:04}", on.year()),
                Part::Year2 => format!("{:02}", on.year().rem_euclid(100)),
                Part::Month => format!("{:02}", on.month()),
                Part::Day => format!("{:02}", on.day()),
            })
            .collect()
    }

    /// The number with sequence `seq` after `prefix`.
    pub fn number(&self, prefix: &str, seq: u64) -> String {
        format!("{prefix}{seq:0width$}", width = self.width)
    }

    /// The sequence of an existing `number` of `prefix`, if it is one.
    pub fn sequence_of(prefix: &str, number: &str) -> Option<u64> {
        let digits = number.strip_prefix(prefix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn date_parts_and_padding() {
        let p = Pattern::parse("HT-{YYYY}{MM}-{SEQ:4}").unwrap();
        let prefix = p.prefix(day(2026, 3, 9));
        assert_eq!(prefix, "HT-202603-");
        assert_eq!(p.number(&prefix, 7), "HT-202603-0007");
        assert_eq!(p.number(&prefix, 12345), "HT-202603-12345");
        let p = Pattern::parse("{YY}{MM}{DD}{SEQ}").unwrap();
        assert_eq!(p.number(&p.prefix(day(2031, 12, 1)), 3), "3112013");
        let p = Pattern::parse("合同{YYYY}第{SEQ:3}").unwrap();
        assert_eq!(p.number(&p.prefix(day(2026, 1, 1)), 1), "合同2026第001");
    }

    #[test]
    fn bad_patterns_say_why() {
        for (pattern, says) in [
            ("C-{YYYY}", "needs {SEQ}"),
            ("{SEQ:4}-{YYYY}", "last part"),
            ("{SEQ}x", "last part"),
            ("C-{YEAR}-{SEQ}", "unknown part {YEAR}"),
            ("C-{SEQ:0}", "width"),
            ("C-{SEQ:40}", "width"),
            ("C-{YYYY-{SEQ}", "unknown part"),
            ("C-{YYYY", "without its '}'"),
            ("C}-{SEQ}", "without its '{'"),
        ] {
            let err = Pattern::parse(pattern).unwrap_err();
            assert!(err.contains(says), "{pattern}: {err}");
        }
    }

    #[test]
    fn sequence_of_reads_only_own_numbers() {
        assert_eq!(Pattern::sequence_of("C-2026-", "C-2026-0042"), Some(42));
        assert_eq!(Pattern::sequence_of("C-2026-", "C-2026-0042a"), None);
        assert_eq!(Pattern::sequence_of("C-2026-", "C-2025-0042"), None);
        assert_eq!(Pattern::sequence_of("C-2026-", "C-2026-"), None);
    }
}
