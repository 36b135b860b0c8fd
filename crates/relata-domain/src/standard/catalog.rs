//! The product catalogue and what a deal is priced from: product categories (a tree), tax
//! categories, price books with their entries and volume tiers, the exchange-rate table, and
//! a deal's line items. Declared like every standard object; installations older than them
//! get them from migration 32.

use rust_decimal::Decimal;

use super::{filterable, lookup, name_field, object, picklist, required, searchable, text, typed};
use crate::api_name::ApiName;
use crate::meta::{FieldDef, FieldType, ObjectDef, Sharing};
use crate::pricing::{
    self, DISCOUNT, DISCOUNT_AMOUNT, ENTRY_ID, GROSS, OPPORTUNITY_ID, PRODUCT_ID, QUANTITY,
    SUBTOTAL, TAX_AMOUNT, TAX_RATE, TOTAL, UNIT_PRICE,
};

pub(super) fn boolean(name: &str, label: &str, default: bool) -> FieldDef {
    let mut f = typed(name, label, FieldType::Boolean);
    f.default = Some(serde_json::Value::Bool(default));
    f
}

pub(super) fn percent(name: &str, label: &str) -> FieldDef {
    let mut f = typed(name, label, FieldType::Percent);
    f.min = Some(Decimal::ZERO);
    f.max = Some(Decimal::ONE_HUNDRED);
    f
}

/// Set by the write path, never by a client.
pub(super) fn computed(name: &str, label: &str) -> FieldDef {
    FieldDef {
        system: true,
        filterable: true,
        ..typed(name, label, FieldType::Currency)
    }
}

pub(super) fn under(mut o: ObjectDef, parent: &str) -> ObjectDef {
    o.sharing = Sharing::ControlledByParent {
        field: ApiName::trusted(parent),
    };
    o
}

fn public(mut o: ObjectDef) -> ObjectDef {
    o.sharing = Sharing::PublicRead;
    o
}

/// A node of the product category tree (产品分类).
pub fn product_category() -> ObjectDef {
    public(object(
        pricing::PRODUCT_CATEGORY,
        "Product category",
        "Product categories",
        "name",
        vec![
            name_field("name", "Category name"),
            filterable(lookup(
                "parent_id",
                "Parent category",
                pricing::PRODUCT_CATEGORY,
            )),
            searchable(text("code", "Code")),
            typed("description", "Description", FieldType::LongText),
        ],
    ))
}

/// A tax category (税目) and its rate: a product's tax rate comes from its category, so a
/// change of rate is made once.
pub fn tax_category() -> ObjectDef {
    public(object(
        pricing::TAX_CATEGORY,
        "Tax category",
        "Tax categories",
        "name",
        vec![
            name_field("name", "Tax category"),
            required(percent("rate", "Tax rate")),
            boolean("active", "Active", true),
            typed("description", "Description", FieldType::LongText),
        ],
    ))
}

/// The catalogue fields products gained with price books (appended: older tables get
/// them by ALTER TABLE).
pub fn product_catalog_fields() -> Vec<FieldDef> {
    vec![
        filterable(lookup("category_id", "Category", pricing::PRODUCT_CATEGORY)),
        filterable(lookup(
            "tax_category_id",
            "Tax category",
            pricing::TAX_CATEGORY,
        )),
    ]
}

pub const CHANNELS: &[(&str, &str)] = &[
    ("direct", "Direct sales"),
    ("partner", "Partners"),
    ("online", "Online"),
    ("retail", "Retail"),
];

/// A price book (价格表): the standard book, or one per channel or region, in force
/// between two dates.
pub fn price_book() -> ObjectDef {
    public(object(
        pricing::PRICE_BOOK,
        "Price book",
        "Price books",
        "name",
        vec![
            name_field("name", "Price book name"),
            filterable(boolean("is_standard", "Standard price book", false)),
            filterable(picklist("channel", "Channel", CHANNELS)),
            filterable(text("region", "Region")),
            typed("valid_from", "Valid from", FieldType::Date),
            typed("valid_to", "Valid to", FieldType::Date),
            filterable(boolean("active", "Active", true)),
            typed("description", "Description", FieldType::LongText),
        ],
    ))
}

/// A product's price in a book (价格表明细), in the book's currency for it.
pub fn price_book_entry() -> ObjectDef {
    under(
        object(
            pricing::PRICE_BOOK_ENTRY,
            "Price book entry",
            "Price book entries",
            "name",
            vec![
                searchable(text("name", "Name")),
                required(filterable(lookup(
                    "price_book_id",
                    "Price book",
                    pricing::PRICE_BOOK,
                ))),
                required(filterable(lookup(PRODUCT_ID, "Product", "product"))),
                required(typed(UNIT_PRICE, "Unit price", FieldType::Currency)),
                filterable(boolean("active", "Active", true)),
            ],
        ),
        "price_book_id",
    )
}

/// A volume tier of an entry (阶梯折扣): from this quantity on, this discount.
pub fn price_tier() -> ObjectDef {
    let mut min = required(typed("min_quantity", "From quantity", FieldType::Decimal));
    min.scale = Some(3);
    min.min = Some(Decimal::ZERO);
    under(
        object(
            pricing::PRICE_TIER,
            "Price tier",
            "Price tiers",
            "name",
            vec![
                text("name", "Name"),
                required(filterable(lookup(
                    ENTRY_ID,
                    "Price book entry",
                    pricing::PRICE_BOOK_ENTRY,
                ))),
                min,
                required(percent(DISCOUNT, "Discount")),
            ],
        ),
        ENTRY_ID,
    )
}

fn currency_code(name: &str, label: &str) -> FieldDef {
    let mut f = required(filterable(text(name, label)));
    f.pattern = Some("^[A-Z]{3}$".into());
    f
}

/// A rate of the exchange-rate table (汇率): one unit of `currency` is worth `rate` of
/// `base_currency`, from a date on.
pub fn exchange_rate() -> ObjectDef {
    let currency = currency_code("currency", "Currency");
    let base = currency_code("base_currency", "In currency");
    let mut rate = required(typed("rate", "Rate", FieldType::Decimal));
    rate.scale = Some(6);
    rate.min = Some(Decimal::new(1, 6));
    public(object(
        pricing::EXCHANGE_RATE,
        "Exchange rate",
        "Exchange rates",
        "name",
        vec![
            text("name", "Name"),
            currency,
            base,
            rate,
            required(filterable(typed(
                "effective_from",
                "Effective from",
                FieldType::Date,
            ))),
        ],
    ))
}

/// The fields of a priced line under `parent` (a deal or a quote): what it sells, at what
/// price, discount and tax, and the amounts the write path computes.
fn line_fields(parent: FieldDef) -> Vec<FieldDef> {
    let mut quantity = required(typed(QUANTITY, "Quantity", FieldType::Decimal));
    quantity.scale = Some(3);
    quantity.default = Some(serde_json::json!("1"));
    // no field limits on discount and tax: the line's own check names them (0–100 %)
    vec![
        searchable(text("name", "Name")),
        parent,
        filterable(lookup(PRODUCT_ID, "Product", "product")),
        lookup(ENTRY_ID, "Price book entry", pricing::PRICE_BOOK_ENTRY),
        quantity,
        typed(UNIT_PRICE, "Unit price", FieldType::Currency),
        typed(DISCOUNT, "Discount", FieldType::Percent),
        typed(TAX_RATE, "Tax rate", FieldType::Percent),
        computed(GROSS, "Gross amount"),
        computed(DISCOUNT_AMOUNT, "Discount amount"),
        computed(SUBTOTAL, "Subtotal"),
        computed(TAX_AMOUNT, "Tax"),
        computed(TOTAL, "Total"),
        typed("description", "Description", FieldType::LongText),
    ]
}

/// A product on a deal (商机产品明细): its amounts are computed, and the deal's amount
/// follows the sum of its lines.
pub fn opportunity_line_item() -> ObjectDef {
    let parent = required(filterable(lookup(
        OPPORTUNITY_ID,
        "Opportunity",
        "opportunity",
    )));
    under(
        object(
            pricing::LINE_ITEM,
            "Opportunity product",
            "Opportunity products",
            "name",
            line_fields(parent),
        ),
        OPPORTUNITY_ID,
    )
}

pub const QUOTE_STATUSES: &[(&str, &str)] = &[
    ("draft", "Draft"),
    ("sent", "Sent"),
    ("accepted", "Accepted"),
    ("declined", "Declined"),
];

pub const APPROVAL_STATUSES: &[(&str, &str)] = &[
    ("none", "Not submitted"),
    ("pending", "In approval"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
];

pub(super) fn system(mut f: FieldDef) -> FieldDef {
    f.system = true;
    f
}

/// A quote (报价单) for a deal: numbered, versioned, priced from its lines less a header
/// discount; a discount past a threshold goes to approval before it may be sent.
pub fn quote() -> ObjectDef {
    let mut status = filterable(picklist("status", "Status", QUOTE_STATUSES));
    status.tracked = true;
    status.default = Some(serde_json::json!("draft"));
    let mut approval = filterable(system(picklist(
        "approval_status",
        "Approval",
        APPROVAL_STATUSES,
    )));
    approval.tracked = true;
    let mut header = typed(
        "header_discount_percent",
        "Header discount",
        FieldType::Percent,
    );
    header.tracked = true;
    let overall = filterable(system(typed(
        "discount_percent_total",
        "Overall discount",
        FieldType::Percent,
    )));
    under(
        object(
            pricing::QUOTE,
            "Quote",
            "Quotes",
            "name",
            vec![
                searchable(text("name", "Quote name")),
                searchable(system(text("quote_number", "Quote number"))),
                system(typed("quote_version", "Version", FieldType::Integer)),
                required(filterable(lookup(
                    OPPORTUNITY_ID,
                    "Opportunity",
                    "opportunity",
                ))),
                filterable(lookup("account_id", "Account", "account")),
                lookup("contact_id", "Contact", "contact"),
                status,
                approval,
                filterable(typed("valid_until", "Valid until", FieldType::Date)),
                header,
                computed(SUBTOTAL, "Subtotal"),
                computed("header_discount_amount", "Header discount amount"),
                computed(TAX_AMOUNT, "Tax"),
                computed(TOTAL, "Total"),
                overall,
                system(typed("superseded_at", "Superseded at", FieldType::Datetime)),
                system(lookup(
                    "previous_version_id",
                    "Previous version",
                    pricing::QUOTE,
                )),
                typed("terms", "Terms", FieldType::LongText),
            ],
        ),
        OPPORTUNITY_ID,
    )
}

/// A product on a quote (报价明细).
pub fn quote_line_item() -> ObjectDef {
    let parent = required(filterable(lookup(
        pricing::QUOTE_ID,
        "Quote",
        pricing::QUOTE,
    )));
    under(
        object(
            pricing::QUOTE_LINE,
            "Quote line",
            "Quote lines",
            "name",
            line_fields(parent),
        ),
        pricing::QUOTE_ID,
    )
}

/// The catalogue objects, lookup targets first.
pub fn catalog_objects() -> Vec<ObjectDef> {
    vec![
        product_category(),
        tax_category(),
        price_book(),
        price_book_entry(),
        price_tier(),
        exchange_rate(),
        opportunity_line_item(),
    ]
}

/// The quote objects (migration 33).
pub fn quote_objects() -> Vec<ObjectDef> {
    vec![quote(), quote_line_item()]
}
