//! Kubeconfig files pointing at the double.

use crate::base64;
use crate::tls::ClientCert;

/// How the kubeconfig authenticates and trusts the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeconfigStyle {
    /// The bearer token (if the server has one), trusting the CA by
    /// `certificate-authority-data` when serving TLS.
    Token,
    /// A client certificate minted for the server's user, trusting the CA.
    ClientCert,
    /// The bearer token with `insecure-skip-tls-verify: true` and no CA.
    Insecure,
    /// No credentials at all (anonymous), trusting the CA.
    Anonymous,
}

/// Renders the kubeconfig: cluster, user and context all named `fakeapi`, namespace
/// `default`.
pub fn render(
    url: &str,
    ca_pem: Option<&str>,
    token: Option<&str>,
    cert: Option<&ClientCert>,
    style: KubeconfigStyle,
) -> String {
    let mut cluster = format!("    server: {url}\n");
    match (style, ca_pem) {
        (KubeconfigStyle::Insecure, _) => cluster.push_str("    insecure-skip-tls-verify: true\n"),
        (_, Some(ca)) => {
            cluster.push_str(&format!(
                "    certificate-authority-data: {}\n",
                base64::encode(ca.as_bytes())
            ));
        }
        _ => {}
    }
    let mut user = String::new();
    match style {
        KubeconfigStyle::Token | KubeconfigStyle::Insecure => {
            if let Some(t) = token {
                user.push_str(&format!("    token: {t}\n"));
            }
        }
        KubeconfigStyle::ClientCert => {
            if let Some(c) = cert {
                user.push_str(&format!(
                    "    client-certificate-data: {}\n    client-key-data: {}\n",
                    base64::encode(c.cert_pem.as_bytes()),
                    base64::encode(c.key_pem.as_bytes())
                ));
            }
        }
        KubeconfigStyle::Anonymous => {}
    }
    let user = if user.is_empty() {
        "  user: {}\n".to_string()
    } else {
        format!("  user:\n{user}")
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fakeapi\n  cluster:\n{cluster}users:\n- name: fakeapi-user\n{user}contexts:\n- name: fakeapi\n  context:\n    cluster: fakeapi\n    user: fakeapi-user\n    namespace: default\ncurrent-context: fakeapi\npreferences: {{}}\n"
    )
}
