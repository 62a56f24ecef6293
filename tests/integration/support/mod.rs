//! Helpers the integration tests share; no tests here.

pub(crate) mod acme;
pub(crate) mod backend;
pub(crate) mod browser;
pub(crate) mod dns_tree;
pub(crate) mod dns_update;
pub(crate) mod harness;
pub(crate) mod process;
pub(crate) mod update_client;
pub(crate) mod zone_keys;
