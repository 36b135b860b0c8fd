//! Text without a font: money, quantities and percentages as printed, and where a line of
//! measured text may break (spaces, between Chinese characters, 避头尾).

use rust_decimal::{Decimal, RoundingStrategy};

/// Thousands grouped, two decimals (half away from zero), the currency's symbol when it has
/// an unambiguous one, else its code: "¥1,234,567.50", "-US$5.00", "CHF 12.00".
pub fn format_money(amount: Decimal, currency: &str) -> String {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    rounded.set_sign_positive(true);
    rounded.rescale(2);
    let digits = group_thousands(&rounded.to_string());
    match currency_symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{digits}"),
        None => format!("{sign}{currency} {digits}"),
    }
}

fn currency_symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "CNY" => "¥",
        "USD" => "US$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "JP¥",
        "HKD" => "HK$",
        _ => return None,
    })
}

/// "1234567.50" → "1,234,567.50" (no sign: callers add it).
fn group_thousands(plain: &str) -> String {
    let (int, frac) = plain
        .split_once('.')
        .map_or((plain, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(plain.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

pub(super) fn format_quantity(quantity: Decimal, unit: Option<&str>) -> String {
    let n = quantity.normalize();
    let sign = if n.is_sign_negative() { "-" } else { "" };
    let digits = group_thousands(&n.abs().to_string());
    match unit {
        Some(u) if !u.is_empty() => format!("{sign}{digits} {u}"),
        _ => format!("{sign}{digits}"),
    }
}

pub(super) fn format_percent(p: Decimal) -> String {
    format!("{}%", p.normalize())
}

/// Greedy line breaking: at a space, or between Chinese characters (which need none), but
/// never before closing punctuation nor after opening punctuation (避头尾, as Chinese
/// typesetting does). A word longer than a line is cut where it overflows.
pub(super) fn wrap_paragraph(text: &str, widths: &[f32], max: f32, out: &mut Vec<String>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let (mut start, mut width) = (0, 0.0);
    let mut last_break: Option<(usize, f32)> = None;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if k > 0 && i > start && can_break_between(chars[k - 1].1, c) {
            last_break = Some((i, width));
        }
        width += widths.get(k).copied().unwrap_or(0.0);
        if width <= max || i == start {
            continue;
        }
        let (end, width_before) = match last_break.take() {
            Some(found) if found.0 > start => found,
            _ => (i, width - widths.get(k).copied().unwrap_or(0.0)),
        };
        out.push(text[start..end].trim_end().to_owned());
        start = end;
        width -= width_before;
    }
    out.push(text[start..].to_owned());
}

fn can_break_between(before: char, after: char) -> bool {
    if after.is_whitespace() || "，。、；：！？）》」』】〉”’…%,.;:!?)]".contains(after)
    {
        return false;
    }
    if "（《「『【〈“‘([".contains(before) {
        return false;
    }
    before.is_whitespace() || is_cjk(before) || is_cjk(after)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}')
}
