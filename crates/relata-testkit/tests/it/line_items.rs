//! Products, price books and a deal's line items (issue 10, items 1–2): a line chosen from
//! a price book entry takes its product, price, name, tax rate and volume discount; its
//! amounts are exact; a price in another currency is converted through the exchange-rate
//! table; the deal's amount follows the sum of its lines and cannot be set past them.

use chrono::{TimeZone, Utc};
use serde_json::{Value as Json, json};

use relata_testkit::TestApp;

use crate::common::{self, assert_field_problem, id_of};

pub struct Catalogue {
    pub product: String,
    pub entry: String,
    pub usd_entry: String,
}

/// A product with 13 % VAT, in the standard book at ¥12,500 with tiers (10+: 5 %, 50+: 10 %)
/// and in a USD book at $2,000.
pub async fn catalogue(app: &TestApp) -> Catalogue {
    let vat = id_of(
        &app.create("tax_category", &json!({"name": "增值税 13%", "rate": "13"}))
            .await,
    );
    let category = id_of(
        &app.create("product_category", &json!({"name": "软件"}))
            .await,
    );
    let child = app
        .create(
            "product_category",
            &json!({"name": "CRM 套件", "parent_id": category}),
        )
        .await;
    assert_eq!(child["parent_id"], category.as_str(), "a category tree");
    let product = id_of(
        &app.create(
            "product",
            &json!({"name": "销售云 专业版", "sku": "SC-PRO", "unit": "套",
                    "category_id": id_of(&child), "tax_category_id": vat}),
        )
        .await,
    );
    let standard = id_of(
        &app.create(
            "price_book",
            &json!({"name": "标准价格表", "is_standard": true}),
        )
        .await,
    );
    let entry = app
        .create(
            "price_book_entry",
            &json!({"price_book_id": standard, "product_id": product,
                    "unit_price": {"amount": "12500", "currency": "CNY"}}),
        )
        .await;
    assert_eq!(entry["name"], "销售云 专业版", "named by its product");
    let entry = id_of(&entry);
    for (min, discount) in [("10", "5"), ("50", "10")] {
        app.create(
            "price_tier",
            &json!({"price_book_entry_id": entry, "min_quantity": min, "discount_percent": discount}),
        )
        .await;
    }
    let usd = id_of(
        &app.create(
            "price_book",
            &json!({"name": "海外价格表", "channel": "partner", "region": "APAC"}),
        )
        .await,
    );
    let usd_entry = id_of(
        &app.create(
            "price_book_entry",
            &json!({"price_book_id": usd, "product_id": product,
                    "unit_price": {"amount": "2000", "currency": "USD"}}),
        )
        .await,
    );
    Catalogue {
        product,
        entry,
        usd_entry,
    }
}

/// A percent as a number (its rendering keeps the scale it was stored with).
/// An app on a fake clock (1 December 2026) with the catalogue and a deal in yuan.
async fn shop(deal: &str, amount: &str) -> (TestApp, Catalogue, String) {
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
    let (app, _clock, _runner) = common::app_on_clock(start, 1).await;
    let c = catalogue(&app).await;
    let deal = id_of(
        &app.create(
            "opportunity",
            &json!({"name": deal, "amount": {"amount": amount, "currency": "CNY"}}),
        )
        .await,
    );
    (app, c, deal)
}

pub fn percent(v: &Json) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

pub fn money(amount: &str, currency: &str) -> Json {
    json!({"amount": amount, "currency": currency})
}

pub async fn deal_amount(app: &TestApp, deal: &str) -> Json {
    let r = app
        .get(&format!("/api/v1/records/opportunity/{deal}"))
        .await;
    r.assert_status(200);
    r.body["amount"].clone()
}

#[tokio::test]
async fn a_line_from_a_price_book_is_priced_exactly_and_the_deal_follows_its_lines() {
    let (app, c, deal) = shop("华夏银行 CRM", "1").await;

    // 4 seats: no tier reached; price, name and tax rate from the entry and the product
    let r = app
        .post(
            "/api/v1/records/opportunity_line_item",
            &json!({"opportunity_id": deal, "price_book_entry_id": c.entry, "quantity": "4"}),
        )
        .await;
    r.assert_status(201);
    let line = r.body.clone();
    assert_eq!(line["product_id"], c.product.as_str());
    assert_eq!(line["name"], "销售云 专业版");
    assert_eq!(line["unit_price"], money("12500.00", "CNY"));
    assert_eq!(percent(&line["tax_rate"]), 13.0);
    assert_eq!(percent(&line["discount_percent"]), 0.0);
    assert_eq!(line["gross_amount"], money("50000.00", "CNY"));
    assert_eq!(line["subtotal"], money("50000.00", "CNY"));
    assert_eq!(line["tax_amount"], money("6500.00", "CNY"));
    assert_eq!(line["total"], money("56500.00", "CNY"));
    assert_eq!(deal_amount(&app, &deal).await, money("56500.00", "CNY"));

    // 12 seats reach the 10+ tier: 5 % off
    let r = app
        .patch(
            &format!("/api/v1/records/opportunity_line_item/{}", id_of(&line)),
            &json!({"quantity": "12"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(percent(&r.body["discount_percent"]), 5.0);
    assert_eq!(r.body["subtotal"], money("142500.00", "CNY"));
    assert_eq!(r.body["total"], money("161025.00", "CNY"));
    // a discount set by hand stays when the quantity moves
    let r = app
        .patch(
            &format!("/api/v1/records/opportunity_line_item/{}", id_of(&line)),
            &json!({"discount_percent": "7.5"}),
        )
        .await;
    r.assert_status(200);
    let r = app
        .patch(
            &format!("/api/v1/records/opportunity_line_item/{}", id_of(&line)),
            &json!({"quantity": "60"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(percent(&r.body["discount_percent"]), 7.5);
    assert_eq!(r.body["subtotal"], money("693750.00", "CNY"));

    // a second line priced in dollars is converted at the rate of the day
    app.create(
        "exchange_rate",
        &json!({"currency": "USD", "base_currency": "CNY", "rate": "7.1", "effective_from": "2026-01-01"}),
    )
    .await;
    app.create(
        "exchange_rate",
        &json!({"currency": "USD", "base_currency": "CNY", "rate": "7.25", "effective_from": "2026-11-15"}),
    )
    .await;
    let r = app
        .post(
            "/api/v1/records/opportunity_line_item",
            &json!({"opportunity_id": deal, "price_book_entry_id": c.usd_entry, "quantity": "1",
                    "tax_rate": "0"}),
        )
        .await;
    r.assert_status(201);
    assert_eq!(r.body["unit_price"], money("14500.00", "CNY"));
    assert_eq!(r.body["total"], money("14500.00", "CNY"));
    let second = id_of(&r.body);
    // 693,750.00 + 13 % = 783,937.50; + 14,500.00
    assert_eq!(deal_amount(&app, &deal).await, money("798437.50", "CNY"));

    // the deal's amount cannot be set past its lines, but an echo of it is fine
    let r = app
        .patch(
            &format!("/api/v1/records/opportunity/{deal}"),
            &json!({"amount": money("1000", "CNY")}),
        )
        .await;
    assert_field_problem(&r, 422, "amount", "read_only");
    let r = app
        .patch(
            &format!("/api/v1/records/opportunity/{deal}"),
            &json!({"amount": money("798437.50", "CNY"), "next_step": "报价"}),
        )
        .await;
    r.assert_status(200);

    // deleting a line takes it off the deal; restoring it puts it back
    let r = app
        .delete(&format!("/api/v1/records/opportunity_line_item/{second}"))
        .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    assert_eq!(deal_amount(&app, &deal).await, money("783937.50", "CNY"));
    let history = app
        .get(&format!("/api/v1/records/opportunity/{deal}/history"))
        .await;
    history.assert_status(200);
    assert!(
        history.text.contains("783937.50"),
        "the deal's amount changes are in its history: {}",
        history.text
    );
}

#[tokio::test]
async fn bad_lines_are_refused_with_the_field_named_and_nothing_written() {
    let (app, c, deal) = shop("南方电网", "10").await;
    let line = |extra: Json| {
        let mut body = json!({"opportunity_id": deal, "price_book_entry_id": c.entry});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let post = |body: Json| {
        let app = &app;
        async move {
            app.post("/api/v1/records/opportunity_line_item", &body)
                .await
        }
    };
    let r = post(line(json!({"quantity": "-2"}))).await;
    assert_field_problem(&r, 422, "quantity", "too_small");
    let r = post(line(json!({"quantity": "2", "discount_percent": "120"}))).await;
    assert_field_problem(&r, 422, "discount_percent", "too_large");
    assert!(r.text.contains("100 %"), "{}", r.text);
    // a dollar price on a yuan deal with no rate for the pair
    let r = post(line(json!({"price_book_entry_id": c.usd_entry}))).await;
    assert_field_problem(&r, 422, "unit_price", "invalid_currency");
    assert!(r.text.contains("USD"), "{}", r.text);
    // no entry and no price
    let r = post(json!({"opportunity_id": deal, "product_id": c.product})).await;
    assert_field_problem(&r, 422, "unit_price", "required");
    // an entry of another product than the one given
    let other = id_of(&app.create("product", &json!({"name": "培训服务"})).await);
    let r = post(line(json!({"product_id": other}))).await;
    assert_field_problem(&r, 422, "product_id", "invalid_option");
    // computed amounts cannot be written
    let r = post(line(json!({"total": money("1", "CNY")}))).await;
    assert_field_problem(&r, 422, "total", "read_only");

    assert_eq!(common::count(&app, "opportunity_line_item").await, 0);
    assert_eq!(
        deal_amount(&app, &deal).await,
        money("10.00", "CNY"),
        "the deal is untouched"
    );
}
