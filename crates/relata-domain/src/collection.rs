//! Contracts (合同) and payment collection (回款), as rules without I/O.
//!
//! A contract has a payment plan of instalments (回款计划), each due on a date; payments
//! (回款记录) are allocated to instalments — to the one a payment names first, then to the
//! earliest unpaid — and invoices (开票) record what was billed. What is paid rolls up to the
//! contract, its opportunity and its account. An instalment past its due date and not paid
//! in full is overdue; receivables are aged in buckets by days past due.

mod ageing;
mod allocate;
mod contract;

#[cfg(test)]
mod tests;

pub use ageing::{AGEING_BUCKETS, ageing_bucket, collection_rate};
pub use allocate::{Allocation, Instalment, Receipt, allocate, instalment_status};
pub use contract::{CONTRACT_STATUSES, check_transition};

pub const CONTRACT: &str = "contract";
pub const PLAN: &str = "payment_plan";
pub const PAYMENT: &str = "payment";
pub const INVOICE: &str = "invoice";

/// The parent of plans, payments and invoices.
pub const CONTRACT_ID: &str = "contract_id";
/// The instalment a payment is for, when it names one.
pub const PLAN_ID: &str = "payment_plan_id";
pub const AMOUNT: &str = "amount";
pub const DUE_DATE: &str = "due_date";
pub const PAYMENT_DATE: &str = "payment_date";
pub const STATUS: &str = "status";
pub const NUMBER: &str = "contract_number";
pub const START_DATE: &str = "start_date";
pub const END_DATE: &str = "end_date";
pub const TERMINATION_REASON: &str = "termination_reason";

/// Computed by the write path (system fields).
pub const PAID: &str = "paid_amount";
pub const OUTSTANDING: &str = "outstanding_amount";
pub const INVOICED: &str = "invoiced_amount";
pub const OVERPAID: &str = "overpaid_amount";
pub const PLANNED: &str = "planned_amount";

/// A payment beyond what a contract still owes: refused, or recorded as an overpayment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overpayment {
    #[default]
    Refuse,
    Record,
}

impl Overpayment {
    pub fn parse(s: &str) -> Option<Overpayment> {
        match s {
            "refuse" => Some(Overpayment::Refuse),
            "record" => Some(Overpayment::Record),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Overpayment::Refuse => "refuse",
            Overpayment::Record => "record",
        }
    }
}

pub const INSTALMENT_STATUSES: &[(&str, &str)] = &[
    ("planned", "Planned"),
    ("partially_paid", "Partially paid"),
    ("paid", "Paid"),
    ("overdue", "Overdue"),
];

pub const PAYMENT_METHODS: &[(&str, &str)] = &[
    ("bank_transfer", "Bank transfer"),
    ("acceptance_bill", "Bank acceptance bill"),
    ("cheque", "Cheque"),
    ("cash", "Cash"),
    ("alipay", "Alipay"),
    ("wechat_pay", "WeChat Pay"),
    ("card", "Card"),
    ("other", "Other"),
];

pub const INVOICE_TYPES: &[(&str, &str)] = &[
    ("vat_special", "VAT special invoice"),
    ("vat_ordinary", "VAT ordinary invoice"),
    ("electronic", "Electronic invoice"),
    ("commercial", "Commercial invoice"),
];

pub const INVOICE_STATUSES: &[(&str, &str)] = &[
    ("requested", "Requested"),
    ("issued", "Issued"),
    ("delivered", "Delivered"),
    ("void", "Void"),
];
