//! Certificates by ACME DNS-01 with real pebble and certbot: against Knot (the reference) and against gslb.

mod gslb;
pub(crate) mod knot_reference;
