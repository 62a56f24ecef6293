//! What the instances of a peer group share: each instance's health view,
//! and the overrides and dynamic records every instance should serve.
//!
//! The design is the simplest that converges without a leader: every
//! instance publishes one [`Document`](document::Document); health is
//! decided by a vote over fresh views ([`quorum`]); overrides and dynamic
//! records are maps merged last-writer-wins per key, each entry carrying a
//! [`Version`](version::Version) from a hybrid logical clock, so every
//! instance that has seen the same entries holds the same map, whatever
//! the order it saw them in. A deletion is an entry too (a tombstone),
//! kept for [`TOMBSTONE_TTL`] so it reaches instances that were away.
//!
//! This module is data and pure functions; the table writer owns the
//! state and the `peer` module moves documents between instances.

pub mod document;
pub mod quorum;
pub mod version;

use std::time::Duration;

/// How long a deletion is remembered: an instance away for longer may
/// bring a deleted override or record back when it returns.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How far ahead of this instance's clock a peer's version may be. A peer
/// whose clock runs further ahead would win every conflict for as long as
/// the gap lasts, so its entries are ignored (and logged) instead.
pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(300);
