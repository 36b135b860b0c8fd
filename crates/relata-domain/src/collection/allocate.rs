//! Allocating payments to instalments. Recomputed from all of a contract's payments each
//! time one changes, so deleting, restoring or correcting a payment can never leave an
//! instalment's paid amount out of step: a payment that names an instalment fills it first;
//! what it has over, and payments that name none, fill the earliest unpaid instalments.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instalment {
    pub id: Uuid,
    pub due: NaiveDate,
    /// The instalment's place in the plan (期数), to order two due on one day.
    pub number: i64,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub amount: Decimal,
    pub instalment: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    /// Paid per instalment (every instalment has an entry).
    pub paid: BTreeMap<Uuid, Decimal>,
    /// What no instalment took: paid beyond the plan.
    pub unallocated: Decimal,
}

/// Allocates `receipts` to `instalments`.
pub fn allocate(instalments: &[Instalment], receipts: &[Receipt]) -> Allocation {
    let mut order: Vec<&Instalment> = instalments.iter().collect();
    order.sort_by_key(|i| (i.due, i.number, i.id));
    let mut paid: BTreeMap<Uuid, Decimal> =
        instalments.iter().map(|i| (i.id, Decimal::ZERO)).collect();
    let room = |paid: &BTreeMap<Uuid, Decimal>, i: &Instalment| {
        (i.amount - paid.get(&i.id).copied().unwrap_or_default()).max(Decimal::ZERO)
    };
    let mut spare = Decimal::ZERO;
    for r in receipts {
        let named = r
            .instalment
            .and_then(|id| instalments.iter().find(|i| i.id == id));
        match named {
            Some(i) => {
                let take = room(&paid, i).min(r.amount);
                *paid.entry(i.id).or_default() += take;
                spare += r.amount - take;
            }
            None => spare += r.amount,
        }
    }
    for i in order {
        if spare <= Decimal::ZERO {
            break;
        }
        let take = room(&paid, i).min(spare);
        *paid.entry(i.id).or_default() += take;
        spare -= take;
    }
    Allocation {
        paid,
        unallocated: spare,
    }
}

/// An instalment's status from what is paid of it and the day it is today.
pub fn instalment_status(
    amount: Decimal,
    paid: Decimal,
    due: NaiveDate,
    today: NaiveDate,
) -> &'static str {
    if paid >= amount {
        "paid"
    } else if due < today {
        "overdue"
    } else if paid > Decimal::ZERO {
        "partially_paid"
    } else {
        "planned"
    }
}
