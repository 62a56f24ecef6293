//! What operators touch: admin API, CLI, health, reloads, drains, explain, the status page, the dashboard, the peer group.

pub(crate) mod admin;
mod admin_abuse;
mod admin_tls;
mod bounded_input;
mod broken_configs;
pub(crate) mod cli;
mod dashboard;
mod declared_overrides;
mod deploy;
mod drain;
mod explain;
mod geoip;
mod health;
mod metrics;
mod peers;
mod reload;
mod status_page;
