//! Identifiers. Every record has a UUIDv7 (time-ordered, so primary-key inserts append to the
//! B-tree instead of splitting pages at random). Newtypes keep a user id from being passed
//! where a record id is expected.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::{ContextV7, Uuid};

/// Makes a UUIDv7 for the given instant (from the injected clock, never the wall clock).
pub fn uuid_v7_at(at: DateTime<Utc>) -> Uuid {
    // One context for the process: ids made in the same millisecond (or with a clock that
    // stands still, as in tests) still increase, so id order is creation order, which
    // "newest first" in lists and search relies on.
    static CONTEXT: Mutex<ContextV7> = Mutex::new(ContextV7::new());
    let secs = at.timestamp().max(0) as u64;
    let nanos = at.timestamp_subsec_nanos();
    let context = CONTEXT.lock().unwrap_or_else(PoisonError::into_inner);
    Uuid::new_v7(uuid::Timestamp::from_unix(&*context, secs, nanos))
}

macro_rules! uuid_newtype {
    // A macro because the two id types are identical in shape and differ only by name; writing
    // each out by hand would be forty lines of copy.
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_at(at: DateTime<Utc>) -> Self {
                Self(uuid_v7_at(at))
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_newtype!(
    /// The id of any record of any object.
    RecordId
);
uuid_newtype!(
    /// The id of a user (owner, creator, actor).
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_at_one_instant_still_increase() {
        // a clock that stands still (tests) or a burst within one millisecond
        let at = DateTime::parse_from_rfc3339("2026-03-01T08:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let ids: Vec<Uuid> = (0..1_000).map(|_| RecordId::new_at(at).0).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids[0].get_version_num(), 7);
        // and they carry the instant they were made at
        let (secs, _) = ids[999].get_timestamp().unwrap().to_unix();
        assert_eq!(secs, at.timestamp() as u64);
    }
}
