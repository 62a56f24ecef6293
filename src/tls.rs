//! The process-wide rustls crypto provider, and server certificates read
//! from PEM.
//!
//! reqwest and kube are built without a bundled provider, and rustls panics
//! on first use when none (or more than one) is enabled; every TLS client
//! gslb builds calls [`install_crypto_provider`] first.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use rustls::sign::CertifiedKey;

/// Installs ring as the process-wide provider. Idempotent: a provider that
/// is already installed stays.
pub fn install_crypto_provider() {
    // ring needs no C toolchain beyond cc; picking it explicitly also keeps
    // a dependency that enables aws-lc-rs from leaving no default at all.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why a certificate and key pair cannot serve TLS. Each variant names the
/// file at fault, so the caller can point at the right config field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPairError {
    /// The certificate file holds no usable certificate.
    #[error("{0}")]
    Certificate(String),
    /// The key file holds no usable private key.
    #[error("{0}")]
    Key(String),
    /// Both read, but the key is not the certificate's.
    #[error("{0}")]
    Mismatch(String),
}

/// The certificates of a PEM bundle (a CA file); at least one.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// A server's certificate chain (leaf first, PEM) and private key (PEM:
/// PKCS#8, PKCS#1 RSA or SEC1 EC), checked to belong together.
pub fn certified_key_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<CertifiedKey>, KeyPairError> {
    let chain = certificates_from_pem(cert_pem).map_err(KeyPairError::Certificate)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        KeyPairError::Key(format!(
            "holds no usable PEM private key (PKCS#8, RSA or EC): {e}"
        ))
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| KeyPairError::Key(format!("the private key cannot sign: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Arc::new(certified))
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err(KeyPairError::Mismatch(
            "the private key does not belong to the first certificate of cert_file".into(),
        )),
        Err(e) => Err(KeyPairError::Certificate(format!(
            "the first certificate cannot be read: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["gslb.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_loads_and_each_fault_names_its_file() {
        let (cert, key) = pair();
        let (_, other_key) = pair();
        assert!(certified_key_from_pem(cert.as_bytes(), key.as_bytes()).is_ok());
        assert!(matches!(
            certified_key_from_pem(b"", key.as_bytes()),
            Err(KeyPairError::Certificate(_))
        ));
        assert!(matches!(
            certified_key_from_pem(key.as_bytes(), key.as_bytes()),
            Err(KeyPairError::Certificate(_))
        ));
        assert!(matches!(
            certified_key_from_pem(cert.as_bytes(), cert.as_bytes()),
            Err(KeyPairError::Key(_))
        ));
        assert!(matches!(
            certified_key_from_pem(cert.as_bytes(), other_key.as_bytes()),
            Err(KeyPairError::Mismatch(_))
        ));
        let broken = cert.replace("MII", "MIX");
        assert!(
            certified_key_from_pem(broken.as_bytes(), key.as_bytes()).is_err(),
            "a corrupted certificate"
        );
    }
}
