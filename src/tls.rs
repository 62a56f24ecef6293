//! The process-wide rustls crypto provider.
//!
//! reqwest and kube are built without a bundled provider, and rustls panics
//! on first use when none (or more than one) is enabled; every TLS client
//! gslb builds calls [`install_crypto_provider`] first.

/// Installs ring as the process-wide provider. Idempotent: a provider that
/// is already installed stays.
pub fn install_crypto_provider() {
    // ring needs no C toolchain beyond cc; picking it explicitly also keeps
    // a dependency that enables aws-lc-rs from leaving no default at all.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
