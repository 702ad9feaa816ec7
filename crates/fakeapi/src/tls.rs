//! A generated certificate authority, the server's certificate for 127.0.0.1 and
//! localhost, and client certificates minted on demand.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// A client certificate and its key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct ClientCert {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

/// The double's PKI.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
    /// The user each minted client certificate authenticates as, by its DER bytes: the
    /// double issued them all, so it needs no certificate parser to read their names.
    users: Mutex<HashMap<Vec<u8>, String>>,
}

impl Pki {
    /// Generates a CA and a server certificate.
    pub fn generate() -> Result<Self, String> {
        let err = |e: rcgen::Error| e.to_string();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kubeseg-fakeapi-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?)
            .map_err(err)?;

        let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &ca).map_err(err)?;
        Ok(Pki {
            ca,
            server_cert: cert.der().clone(),
            server_key: key.serialize_der(),
            users: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM-encoded (a kubeconfig's `certificate-authority-data`).
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// Mints a client certificate for `user` in `groups` (CN and O, as the real server
    /// reads them).
    pub fn mint_client(&self, user: &str, groups: &[&str]) -> Result<ClientCert, String> {
        let err = |e: rcgen::Error| e.to_string();
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, user);
        for g in groups {
            params.distinguished_name.push(DnType::OrganizationName, *g);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &self.ca).map_err(err)?;
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cert.der().to_vec(), user.to_string());
        Ok(ClientCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The user a verified client certificate names.
    pub fn user_of(&self, der: &[u8]) -> Option<String> {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(der)
            .cloned()
    }

    /// The rustls configuration; with `require_client_cert` a handshake without a
    /// certificate signed by the CA fails, otherwise one is asked for but optional.
    pub fn server_config(&self, require_client_cert: bool) -> Result<Arc<ServerConfig>, String> {
        // ring, not aws-lc: no C toolchain beyond ring's. rustls deprecates ring's provider
        // for lacking post-quantum key exchange, which a loopback test double does not need.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca.der().clone())
            .map_err(|e| e.to_string())?;
        let builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let builder = if require_client_cert {
            builder
        } else {
            builder.allow_unauthenticated()
        };
        let verifier = builder.build().map_err(|e| e.to_string())?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server_cert.clone()], key)
            .map_err(|e| e.to_string())?;
        // hyper's client speaks HTTP/1.1 here; offering ALPN for it mirrors the server.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
