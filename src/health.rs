//! Probing targets. [`prober`] runs the probes ([`probe`]) and turns their
//! results into flips through pure rise/fall counting ([`hysteresis`]),
//! within a bounded number of probes in flight ([`slots`]). The flips go to
//! the table writer, which publishes them in the snapshot's health bits
//! ([`crate::table::liveness`]): what the DNS path reads is data of the
//! table, what produces it lives here.

pub mod hysteresis;
pub mod probe;
pub mod prober;
pub mod slots;
