//! The template's words: each label in Chinese, English or both, and dates as each language
//! writes them.

use chrono::NaiveDate;

use super::Language;

#[derive(Clone, Copy)]
pub(super) enum Label {
    Title,
    Number,
    IssuedOn,
    ValidUntil,
    Currency,
    Customer,
    Contact,
    Phone,
    Email,
    Row,
    Item,
    Quantity,
    UnitPrice,
    Discount,
    Subtotal,
    Tax,
    Total,
    Terms,
}

/// (Chinese, English).
fn words(label: Label) -> (&'static str, &'static str) {
    match label {
        Label::Title => ("报价单", "Quote"),
        Label::Number => ("编号", "No."),
        Label::IssuedOn => ("日期", "Date"),
        Label::ValidUntil => ("有效期至", "Valid until"),
        Label::Currency => ("币种", "Currency"),
        Label::Customer => ("客户", "Customer"),
        Label::Contact => ("联系人", "Contact"),
        Label::Phone => ("电话", "Phone"),
        Label::Email => ("邮箱", "Email"),
        Label::Row => ("#", "#"),
        Label::Item => ("产品", "Item"),
        Label::Quantity => ("数量", "Qty"),
        Label::UnitPrice => ("单价", "Unit price"),
        Label::Discount => ("折扣", "Discount"),
        Label::Subtotal => ("小计", "Subtotal"),
        Label::Tax => ("税额", "Tax"),
        Label::Total => ("合计", "Total"),
        Label::Terms => ("条款", "Terms"),
    }
}

impl Language {
    pub(super) fn label(self, label: Label) -> String {
        let (zh, en) = words(label);
        match self {
            Language::En => en.to_owned(),
            Language::ZhCn => zh.to_owned(),
            Language::Bilingual if zh == en => zh.to_owned(),
            Language::Bilingual => format!("{zh} {en}"),
        }
    }

    /// A table heading: bilingual ones on two lines, so narrow columns stay readable.
    pub(super) fn heading(self, label: Label) -> Vec<String> {
        let (zh, en) = words(label);
        match self {
            Language::Bilingual if zh != en => vec![zh.to_owned(), en.to_owned()],
            _ => vec![self.label(label)],
        }
    }

    pub(super) fn field(self, label: Label, value: &str) -> String {
        let colon = if self == Language::ZhCn { "：" } else { ": " };
        format!("{}{colon}{value}", self.label(label))
    }

    pub(super) fn date(self, d: NaiveDate) -> String {
        match self {
            Language::ZhCn => d.format("%Y年%-m月%-d日").to_string(),
            _ => d.format("%Y-%m-%d").to_string(),
        }
    }

    pub(super) fn tag(self) -> &'static str {
        if self == Language::En { "en" } else { "zh-CN" }
    }
}
