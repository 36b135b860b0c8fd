//! One module per resource. Each handler parses, calls one service, and shapes the answer.

pub mod changes;
pub mod meta;
pub mod records;
pub mod search;
pub mod system;
