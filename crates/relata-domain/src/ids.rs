//! Identifiers. Every record has a UUIDv7 (time-ordered, so primary-key inserts append to the
//! B-tree instead of splitting pages at random). Newtypes keep a user id from being passed
//! where a record id is expected.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Makes a UUIDv7 for the given instant (from the injected clock, never the wall clock).
pub fn uuid_v7_at(at: DateTime<Utc>) -> Uuid {
    let secs = at.timestamp().max(0) as u64;
    let nanos = at.timestamp_subsec_nanos();
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos))
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
