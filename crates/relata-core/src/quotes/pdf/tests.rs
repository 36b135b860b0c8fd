use std::process::Command;
use std::str::FromStr;

use super::fonts::DEBIAN_FONTS;
use super::layout::{BODY, Layout};
use super::text::format_quantity;
use super::*;

/// Fails (never skips) without the font: CI installs fonts-noto-cjk.
fn fonts() -> Fonts {
    Fonts::discover().expect("a CJK font: apt-get install fonts-noto-cjk")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal literal")
}

/// A line with 6 % tax and its amounts computed the way pricing does, for these inputs.
fn line(name: &str, quantity: &str, unit: &str, price: &str, discount: &str) -> QuoteLine {
    let (quantity, unit_price, discount_percent) = (dec(quantity), dec(price), dec(discount));
    let subtotal = (quantity * unit_price * (Decimal::ONE_HUNDRED - discount_percent)
        / Decimal::ONE_HUNDRED)
        .round_dp(2);
    let tax = (subtotal * dec("0.06")).round_dp(2);
    QuoteLine {
        name: name.into(),
        description: None,
        quantity,
        unit: Some(unit.into()),
        unit_price,
        discount_percent,
        subtotal,
        tax_rate: dec("6"),
        tax,
        total: subtotal + tax,
    }
}

fn quote(lines: Vec<QuoteLine>) -> QuoteDocument {
    let subtotal = lines.iter().map(|l| l.subtotal).sum();
    let tax = lines.iter().map(|l| l.tax).sum();
    QuoteDocument {
        language: Language::default(),
        seller: Party {
            name: "北京关系数据科技有限公司".into(),
            address_lines: vec!["北京市海淀区中关村大街 1 号".into()],
            phone: Some("010-8888 6666".into()),
            email: Some("sales@relata.example".into()),
        },
        customer: Party {
            name: "华夏银行股份有限公司".into(),
            address_lines: vec!["北京市东城区建国门内大街 22 号".into()],
            ..Party::default()
        },
        contact_name: Some("王经理".into()),
        quote_number: "Q-2026-0007 v2".into(),
        issued_on: NaiveDate::from_ymd_opt(2026, 3, 5).expect("a date"),
        valid_until: NaiveDate::from_ymd_opt(2026, 4, 4),
        currency: "CNY".into(),
        lines,
        subtotal,
        header_discount: Decimal::ZERO,
        tax,
        total: subtotal + tax,
        terms: Some(
            "1. 报价有效期为三十天。\n2. 付款方式：合同签订后支付 50%，验收后支付 50%。".into(),
        ),
        logo_png: None,
    }
}

fn three_lines() -> QuoteDocument {
    let mut cloud = line(
        "销售云 专业版（每席位/年）含移动端与数据分析模块",
        "50",
        "席位",
        "2000",
        "10",
    );
    cloud.description = Some("Sales Cloud Professional, per seat and year".into());
    quote(vec![
        cloud,
        line("实施服务 Implementation", "20", "人天", "2500", "0"),
        line("培训 Training", "5", "人天", "2500", "0"),
    ])
}

/// Runs one of poppler's tools on the PDF and returns what it printed.
fn poppler(tool: &str, pdf: &[u8], args: &[&str]) -> String {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), pdf).expect("the PDF written");
    let out = Command::new(tool)
        .args(args)
        .arg(file.path())
        .args(if tool == "pdftotext" { &["-"][..] } else { &[] })
        .output()
        .unwrap_or_else(|e| panic!("{tool} ({e}): apt-get install poppler-utils"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn page_count(pdf: &[u8]) -> usize {
    let info = poppler("pdfinfo", pdf, &[]);
    let pages = info.lines().find_map(|l| l.strip_prefix("Pages:"));
    pages
        .and_then(|p| p.trim().parse().ok())
        .expect("a page count")
}

#[test]
fn bilingual_quote_has_extractable_chinese_text() {
    let pdf = render(&three_lines(), &fonts()).expect("a PDF");
    let text = poppler("pdftotext", &pdf, &["-raw"]);
    for expected in [
        "华夏银行股份有限公司",
        "Q-2026-0007 v2",
        "报价单 Quote",
        "有效期至 Valid until",
        "2026-04-04",
        "¥161,650.00",
        "¥152,500.00",
        "¥90,000.00",
        "50 席位",
        "数据分析模块",
        "付款方式：合同签订后支付 50%",
        "1 / 1",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(page_count(&pdf), 1);
}

#[test]
fn font_is_embedded_as_a_subset_with_a_unicode_map() {
    let pdf = render(&three_lines(), &fonts()).expect("a PDF");
    let listing = poppler("pdffonts", &pdf, &[]);
    let fonts: Vec<&str> = listing.lines().skip(2).collect();
    assert!(!fonts.is_empty(), "{listing}");
    for font in fonts {
        // name type encoding … emb sub uni: a subset ("ABCDEF+") that maps back to text
        assert!(
            font.contains('+') && font.contains("yes yes yes"),
            "{listing}"
        );
    }
    assert!(
        pdf.len() < 200_000,
        "a subset, not the whole font: {} bytes",
        pdf.len()
    );
}

#[test]
fn long_product_names_wrap_inside_their_column() {
    let pdf = render(&three_lines(), &fonts()).expect("a PDF");
    let text = poppler("pdftotext", &pdf, &["-raw"]);
    let name = "销售云 专业版（每席位/年）含移动端与数据分析模块";
    assert!(
        !text.contains(name),
        "one line too wide for its column:\n{text}"
    );
    assert!(
        text.contains("销售云") && text.contains("数据分析模块"),
        "{text}"
    );
}

#[test]
fn forty_lines_paginate_with_the_table_header_on_each_page() {
    let lines = (1..=40).map(|i| line(&format!("产品 Product {i:02}"), "1", "套", "100", "0"));
    let pdf = render(&quote(lines.collect()), &fonts()).expect("a PDF");
    let pages = page_count(&pdf);
    assert!(pages >= 2, "{pages} page(s)");
    let text = poppler("pdftotext", &pdf, &["-raw"]);
    for i in 1..=40 {
        assert!(
            text.contains(&format!("Product {i:02}")),
            "line {i} lost:\n{text}"
        );
    }
    assert!(text.contains(&format!("1 / {pages}")) && text.contains(&format!("{pages} / {pages}")));
    // The totals may open a page of their own; every page with lines has the header.
    let pages_with_lines = text
        .split('\u{c}')
        .filter(|p| p.contains("Product"))
        .count();
    assert!(
        text.matches("单价").count() >= pages_with_lines.max(2),
        "{text}"
    );
    assert!(text.contains("¥4,240.00"), "{text}");
}

#[test]
fn english_quote_has_english_labels_only() {
    let mut doc = three_lines();
    doc.language = Language::En;
    let text = poppler("pdftotext", &render(&doc, &fonts()).expect("a PDF"), &[]);
    assert!(
        text.contains("Quote") && text.contains("Unit price"),
        "{text}"
    );
    assert!(!text.contains("报价单") && !text.contains("单价"), "{text}");
    assert!(
        text.contains("华夏银行股份有限公司"),
        "the customer's own name stays"
    );
}

#[test]
fn logo_is_drawn_and_a_broken_one_refused() {
    // A 1×1 PNG.
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    use base64::Engine as _;
    let mut doc = three_lines();
    doc.logo_png = Some(
        base64::engine::general_purpose::STANDARD
            .decode(png)
            .expect("base64"),
    );
    let pdf = render(&doc, &fonts()).expect("a PDF");
    let images = poppler("pdfimages", &pdf, &["-list"]);
    assert_eq!(
        images
            .lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("image"))
            .count(),
        1,
        "{images}"
    );

    doc.logo_png = Some(b"GIF89a not a png".to_vec());
    let err = render(&doc, &fonts()).expect_err("not a PNG");
    assert!(matches!(err, PdfError::BadLogo(_)), "{err}");
}

#[test]
fn missing_font_file_is_named_in_the_error() {
    let err = Fonts::from_path("/nonexistent").expect_err("no such file");
    assert!(err.to_string().contains("/nonexistent"), "{err}");
}

#[test]
fn no_font_found_names_the_debian_package() {
    let err = PdfError::NoFont {
        searched: vec![PathBuf::from(DEBIAN_FONTS[0].0)],
    };
    assert!(err.to_string().contains("fonts-noto-cjk"), "{err}");
}

#[test]
fn money_is_grouped_with_two_decimals() {
    assert_eq!(format_money(dec("1234567.5"), "CNY"), "¥1,234,567.50");
    assert_eq!(format_money(dec("0.005"), "CNY"), "¥0.01");
    assert_eq!(format_money(dec("-1000"), "USD"), "-US$1,000.00");
    assert_eq!(format_money(dec("-0.001"), "CNY"), "¥0.00");
    assert_eq!(format_money(dec("999"), "CHF"), "CHF 999.00");
    assert_eq!(format_quantity(dec("12500.50"), Some("套")), "12,500.5 套");
}

#[test]
fn chinese_breaks_between_characters_but_not_before_closing_punctuation() {
    let fonts = fonts();
    let layout = Layout::new(&fonts, Language::ZhCn);
    let text = "付款方式：合同签订后支付百分之五十，验收合格后支付其余款项。";
    let max = 8.0 * BODY.size;
    let lines = layout.wrap(BODY, text, max);
    assert!(lines.len() > 2, "{lines:?}");
    assert_eq!(lines.concat(), text);
    for l in &lines {
        assert!(
            layout.width(BODY, l) <= max + 0.01 || l.chars().count() == 1,
            "{lines:?}"
        );
        assert!(!l.starts_with(['，', '。', '：']), "{lines:?}");
    }
    let words = layout.wrap(BODY, "Implementation services per day", 80.0);
    assert!(
        words
            .iter()
            .all(|w| !w.starts_with(' ') && !w.ends_with(' ')),
        "{words:?}"
    );
    assert_eq!(words.join(" "), "Implementation services per day");
}
