//! Realistic bilingual sample data: the word lists that `relata demo` assembles its companies,
//! people and deals from, and that the benchmark data set (`relata-bench`) draws its contacts
//! from. One set of lists, so the demo and the benchmark look alike and a better list improves
//! both.
//!
//! Only data lives here; each user brings its own generator (the demo a seeded `rand`
//! generator, the benchmark a per-record one so any slice of a data set is reproducible).

pub mod names;
