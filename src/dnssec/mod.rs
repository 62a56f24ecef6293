//! DNSSEC's data side: a zone's keys read from BIND key-file pairs
//! ([`keyfile`]), what their timing means at a moment ([`timing`]), the
//! key tag and DS of a key ([`key`]), RRsets in canonical form
//! ([`canonical`]), RRSIGs over them and the bounded cache that keeps them
//! ([`signer`], [`cache`]).
//!
//! It knows no transport: the answer engine (`dns::answer`) reads the
//! records it writes back into a [`CanonicalRrset`] and asks the zone's
//! [`Signer`] for the signatures; compact denial (RFC 9824) is written
//! there too. Config validation reads the keys with [`Key::read`].

pub mod cache;
pub mod canonical;
pub mod key;
pub mod keyfile;
pub mod report;
pub mod signer;
pub mod timing;

pub use canonical::CanonicalRrset;
pub use key::Key;
pub use keyfile::Algorithm;
pub use signer::{Policy, Signed, Signer};
pub use timing::{KeyState, Timing};

#[cfg(test)]
mod tests;
