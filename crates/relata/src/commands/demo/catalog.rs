//! The demo's product catalogue: tax categories, a small category tree, products, the
//! standard price book (in yuan, with volume tiers on the per-seat products) and a partner
//! book in dollars with its exchange rate, then products on some of the generated deals —
//! whose amounts then follow their lines.

use serde_json::{Value as Json, json};

use super::Loader;

/// Every `EVERY`th deal gets products.
const EVERY: usize = 4;
/// Deals given products, at most.
const MOST: usize = 150;

struct Product {
    name: &'static str,
    sku: &'static str,
    unit: &'static str,
    family: &'static str,
    /// Index into the categories.
    category: usize,
    /// 0: 13 % VAT (goods, software licences), 1: 6 % (services).
    tax: usize,
    price: &'static str,
    usd: &'static str,
    tiered: bool,
}

const PRODUCTS: &[Product] = &[
    Product {
        name: "销售云 专业版（每席位/年）",
        sku: "SC-PRO",
        unit: "席位",
        family: "software",
        category: 1,
        tax: 0,
        price: "3600",
        usd: "520",
        tiered: true,
    },
    Product {
        name: "销售云 企业版（每席位/年）",
        sku: "SC-ENT",
        unit: "席位",
        family: "software",
        category: 1,
        tax: 0,
        price: "6800",
        usd: "980",
        tiered: true,
    },
    Product {
        name: "服务云 工单模块（每席位/年）",
        sku: "SV-DESK",
        unit: "席位",
        family: "software",
        category: 1,
        tax: 0,
        price: "2400",
        usd: "350",
        tiered: true,
    },
    Product {
        name: "BI 分析包",
        sku: "BI-PACK",
        unit: "套",
        family: "software",
        category: 2,
        tax: 0,
        price: "48000",
        usd: "6900",
        tiered: false,
    },
    Product {
        name: "实施服务（人天）",
        sku: "PS-DAY",
        unit: "人天",
        family: "service",
        category: 3,
        tax: 1,
        price: "2500",
        usd: "360",
        tiered: false,
    },
    Product {
        name: "培训服务（场）",
        sku: "PS-TRAIN",
        unit: "场",
        family: "service",
        category: 3,
        tax: 1,
        price: "8000",
        usd: "1150",
        tiered: false,
    },
    Product {
        name: "呼叫中心终端",
        sku: "HW-PHONE",
        unit: "台",
        family: "hardware",
        category: 4,
        tax: 0,
        price: "1200",
        usd: "170",
        tiered: true,
    },
];

/// Creates the catalogue and puts products on some of `deals`. Answers how many lines.
pub fn create(loader: &Loader, deals: &[String]) -> anyhow::Result<usize> {
    let taxes = loader.create("tax_category", 2, |i| {
        [
            json!({"name": "增值税 13%（货物、软件）", "rate": "13"}),
            json!({"name": "增值税 6%（现代服务）", "rate": "6"}),
        ][i]
            .clone()
    })?;
    let roots = loader.create(
        "product_category",
        1,
        |_| json!({"name": "全部产品 · All products", "code": "ALL"}),
    )?;
    let categories: Vec<String> = roots
        .iter()
        .cloned()
        .chain(loader.create("product_category", 4, |i| {
            let (name, code) = [
                ("软件订阅 · Subscriptions", "SUB"),
                ("数据分析 · Analytics", "BI"),
                ("专业服务 · Services", "PS"),
                ("硬件 · Hardware", "HW"),
            ][i];
            json!({"name": name, "code": code, "parent_id": roots[0]})
        })?)
        .collect();
    let products = loader.create("product", PRODUCTS.len(), |i| {
        let p = &PRODUCTS[i];
        json!({"name": p.name, "sku": p.sku, "unit": p.unit, "family": p.family,
               "list_price": {"amount": p.price, "currency": "CNY"},
               "category_id": categories[p.category], "tax_category_id": taxes[p.tax]})
    })?;
    let books = loader.create("price_book", 2, |i| {
        [
            json!({"name": "标准价格表 · Standard", "is_standard": true, "channel": "direct"}),
            json!({"name": "海外伙伴价格表 · Partners (USD)", "channel": "partner", "region": "APAC"}),
        ][i]
        .clone()
    })?;
    loader.create("exchange_rate", 1, |_| {
        json!({"currency": "USD", "base_currency": "CNY", "rate": "7.2", "effective_from": "2026-01-01"})
    })?;
    let entries = loader.create("price_book_entry", PRODUCTS.len() * 2, |i| {
        let (p, book) = (&PRODUCTS[i % PRODUCTS.len()], i / PRODUCTS.len());
        let price = if book == 0 {
            json!({"amount": p.price, "currency": "CNY"})
        } else {
            json!({"amount": p.usd, "currency": "USD"})
        };
        json!({"price_book_id": books[book], "product_id": products[i % PRODUCTS.len()], "unit_price": price})
    })?;
    let tiered: Vec<&String> = entries[..PRODUCTS.len()]
        .iter()
        .zip(PRODUCTS)
        .filter(|(_, p)| p.tiered)
        .map(|(e, _)| e)
        .collect();
    loader.create("price_tier", tiered.len() * 2, |i| {
        let (min, discount) = [("20", "5"), ("100", "12")][i % 2];
        json!({"price_book_entry_id": tiered[i / 2], "min_quantity": min, "discount_percent": discount})
    })?;

    // a seat product and, on every other deal, services to roll it out
    let chosen: Vec<&String> = deals.iter().step_by(EVERY).take(MOST).collect();
    let lines: Vec<Json> = chosen
        .iter()
        .enumerate()
        .flat_map(|(k, deal)| {
            let seats = ["10", "25", "60", "120"][k % 4];
            let mut out = vec![json!({"opportunity_id": deal, "price_book_entry_id": entries[k % 3], "quantity": seats})];
            if k % 2 == 0 {
                out.push(json!({"opportunity_id": deal, "price_book_entry_id": entries[4], "quantity": "15"}));
            }
            out
        })
        .collect();
    loader.create("opportunity_line_item", lines.len(), |i| lines[i].clone())?;
    Ok(lines.len())
}
