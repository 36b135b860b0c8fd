//! Contracts (合同) and what is collected on them (回款): the payment plan's instalments,
//! payments, and invoices (开票). Plans, payments and invoices are seen with their contract;
//! their paid, outstanding and invoiced amounts are computed by the write path. Installations
//! older than them get them from migration 34.

use super::catalog::{APPROVAL_STATUSES, computed, percent, system, under};
use super::{filterable, lookup, name_field, object, picklist, required, searchable, text, typed};
use crate::collection::{
    self, AMOUNT, CONTRACT_ID, CONTRACT_STATUSES, DUE_DATE, END_DATE, INSTALMENT_STATUSES,
    INVOICE_STATUSES, INVOICE_TYPES, INVOICED, OUTSTANDING, OVERPAID, PAID, PAYMENT_DATE,
    PAYMENT_METHODS, PLAN_ID, PLANNED, START_DATE,
};
use crate::meta::{FieldDef, FieldType, ObjectDef};

fn tracked(mut f: FieldDef) -> FieldDef {
    f.tracked = true;
    f
}

fn with_default(mut f: FieldDef, value: &str) -> FieldDef {
    f.default = Some(serde_json::Value::String(value.to_owned()));
    f
}

/// A name the write path gives when the client does not (from the contract's number).
fn auto_name(label: &str) -> FieldDef {
    FieldDef {
        required: false,
        ..name_field("name", label)
    }
}

fn parent() -> FieldDef {
    required(filterable(lookup(
        CONTRACT_ID,
        "Contract",
        collection::CONTRACT,
    )))
}

/// A contract with a customer: numbered by the installation's numbering rule, made from a
/// won deal or an accepted quote (or on its own), approved when a process asks for it.
pub fn contract() -> ObjectDef {
    object(
        collection::CONTRACT,
        "Contract",
        "Contracts",
        "name",
        vec![
            name_field("name", "Contract name"),
            searchable(system(text(collection::NUMBER, "Contract number"))),
            required(filterable(lookup("account_id", "Account", "account"))),
            filterable(lookup("opportunity_id", "Opportunity", "opportunity")),
            lookup("quote_id", "Quote", crate::pricing::QUOTE),
            lookup("contact_id", "Customer signatory", "contact"),
            tracked(filterable(with_default(
                picklist(collection::STATUS, "Status", CONTRACT_STATUSES),
                "draft",
            ))),
            tracked(filterable(system(picklist(
                "approval_status",
                "Approval",
                APPROVAL_STATUSES,
            )))),
            tracked(required(typed(
                AMOUNT,
                "Contract amount",
                FieldType::Currency,
            ))),
            required(filterable(typed(START_DATE, "Start date", FieldType::Date))),
            tracked(required(filterable(typed(
                END_DATE,
                "End date",
                FieldType::Date,
            )))),
            typed("signed_date", "Signed on", FieldType::Date),
            computed(PLANNED, "Planned"),
            computed(PAID, "Paid"),
            computed(OUTSTANDING, "Outstanding"),
            computed(OVERPAID, "Overpaid"),
            computed(INVOICED, "Invoiced"),
            text(collection::TERMINATION_REASON, "Termination reason"),
            lookup("renewal_of_id", "Renews", collection::CONTRACT),
            typed("terms", "Terms", FieldType::LongText),
        ],
    )
}

/// An instalment of a contract's payment plan (回款计划).
pub fn payment_plan() -> ObjectDef {
    under(
        object(
            collection::PLAN,
            "Payment plan",
            "Payment plans",
            "name",
            vec![
                auto_name("Instalment"),
                parent(),
                system(typed(
                    "instalment_number",
                    "Instalment no.",
                    FieldType::Integer,
                )),
                required(filterable(typed(DUE_DATE, "Due date", FieldType::Date))),
                required(typed(AMOUNT, "Amount", FieldType::Currency)),
                computed(PAID, "Paid"),
                computed(OUTSTANDING, "Outstanding"),
                tracked(filterable(system(picklist(
                    collection::STATUS,
                    "Status",
                    INSTALMENT_STATUSES,
                )))),
                typed("description", "Description", FieldType::LongText),
            ],
        ),
        CONTRACT_ID,
    )
}

/// Money received on a contract (回款记录), for an instalment or the earliest unpaid.
pub fn payment() -> ObjectDef {
    under(
        object(
            collection::PAYMENT,
            "Payment",
            "Payments",
            "name",
            vec![
                auto_name("Payment"),
                parent(),
                filterable(lookup(PLAN_ID, "Instalment", collection::PLAN)),
                tracked(required(typed(AMOUNT, "Amount", FieldType::Currency))),
                required(filterable(typed(
                    PAYMENT_DATE,
                    "Payment date",
                    FieldType::Date,
                ))),
                filterable(picklist("method", "Method", PAYMENT_METHODS)),
                filterable(typed("collected_by", "Collected by", FieldType::UserLookup)),
                searchable(text("reference", "Bank reference")),
                typed("description", "Description", FieldType::LongText),
            ],
        ),
        CONTRACT_ID,
    )
}

/// An invoice issued on a contract (开票记录).
pub fn invoice() -> ObjectDef {
    under(
        object(
            collection::INVOICE,
            "Invoice",
            "Invoices",
            "name",
            vec![
                auto_name("Invoice number"),
                parent(),
                filterable(picklist("invoice_type", "Invoice type", INVOICE_TYPES)),
                tracked(filterable(with_default(
                    picklist(collection::STATUS, "Status", INVOICE_STATUSES),
                    "requested",
                ))),
                required(typed(AMOUNT, "Amount", FieldType::Currency)),
                percent("tax_rate", "Tax rate"),
                filterable(typed("issue_date", "Issue date", FieldType::Date)),
                text("buyer_name", "Buyer name"),
                text("buyer_tax_id", "Buyer tax ID"),
                typed("description", "Description", FieldType::LongText),
            ],
        ),
        CONTRACT_ID,
    )
}

/// What the collection adds to accounts and opportunities: paid in all, rolled up from
/// their contracts (appended: older tables get it by ALTER TABLE).
pub fn paid_roll_up_field() -> FieldDef {
    computed(PAID, "Paid")
}

/// The contract objects (migration 34), lookup targets first.
pub fn contract_objects() -> Vec<ObjectDef> {
    vec![contract(), payment_plan(), payment(), invoice()]
}
