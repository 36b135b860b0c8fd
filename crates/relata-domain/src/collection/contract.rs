//! A contract's status: draft → in approval → active → expired, or terminated. "In
//! approval" is entered and left by the approval engine; the rest by people, and "expired"
//! also by the daily sweep once the end date has passed.

pub const CONTRACT_STATUSES: &[(&str, &str)] = &[
    ("draft", "Draft"),
    ("in_approval", "In approval"),
    ("active", "Active"),
    ("expired", "Expired"),
    ("terminated", "Terminated"),
];

/// Whether a person (or the sweep) may move a contract `from` → `to`; the error says why not.
/// Approval moves (`draft ↔ in_approval → active`) are made by the approval engine, not here.
pub fn check_transition(from: &str, to: &str) -> Result<(), String> {
    if from == to {
        return Ok(());
    }
    match (from, to) {
        ("draft", "active") | ("active", "expired") | ("active", "terminated") => Ok(()),
        ("draft", "terminated") => Ok(()),
        (_, "in_approval") => Err("a contract goes into approval by being submitted".into()),
        ("in_approval", _) => {
            Err("the contract is in approval: it is decided or recalled there".into())
        }
        ("expired" | "terminated", _) => Err(format!("a {from} contract does not change status")),
        _ => Err(format!(
            "a contract goes draft → active → expired or terminated, not {from} → {to}"
        )),
    }
}
