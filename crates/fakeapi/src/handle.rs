//! The running server's handle: what tests call to inspect, change and break it.

use crate::conn::{bind, spawn_accept};
use crate::kinds::{self, KINDS};
use crate::kubeconfig::{self, KubeconfigStyle};
use crate::server::{Shared, kind_of_object, lock};
use crate::status::ApiError;
use crate::tls::{ClientCert, Pki};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running fake API server. Dropping it stops the server.
pub struct Handle {
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Handle {
    /// Wraps a started server.
    pub(crate) fn new(shared: Arc<Shared>, accept: JoinHandle<()>) -> Self {
        Handle {
            shared,
            accept: Mutex::new(Some(accept)),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:PORT` or `https://...`.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls_config.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.shared.addr)
    }

    /// The CA certificate (PEM), when serving TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.shared.pki.as_ref().map(Pki::ca_pem)
    }

    /// Mints a client certificate for `user` in `groups`; it authenticates as `user`.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<ClientCert, String> {
        self.shared
            .pki
            .as_ref()
            .ok_or("the server does not serve TLS")?
            .mint_client(user, groups)
    }

    /// A kubeconfig for this server, with cluster, user and context named `fakeapi`.
    pub fn kubeconfig(&self, style: KubeconfigStyle) -> Result<String, String> {
        let cert = match style {
            KubeconfigStyle::ClientCert => {
                Some(self.client_cert(&self.shared.user, &["system:masters"])?)
            }
            _ => None,
        };
        Ok(kubeconfig::render(
            &self.url(),
            self.ca_pem().as_deref(),
            self.shared.token.as_deref(),
            cert.as_ref(),
            style,
        ))
    }

    /// Creates or replaces an object (any resourceVersion it carries is ignored).
    pub fn apply(&self, obj: Value) -> Result<Value, ApiError> {
        let kind = kind_of_object(&obj).map_err(ApiError::bad_request)?;
        Ok((*lock(&self.shared.store).apply(kind, obj)?).clone())
    }

    /// Deletes an object named by kind (`Pod`), plural (`pods`) or `plural.group`.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let k = resolve_kind(kind)
            .ok_or_else(|| ApiError::bad_request(format!("unknown kind {kind}")))?;
        let ns = if KINDS[k].namespaced { namespace } else { "" };
        Ok((*lock(&self.shared.store).delete(k, ns, name)?).clone())
    }

    /// The object as stored now.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let k = resolve_kind(kind)?;
        let ns = if KINDS[k].namespaced { namespace } else { "" };
        lock(&self.shared.store)
            .get(k, ns, name)
            .map(|o| (*o).clone())
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).rv()
    }

    /// Drops all history: watches and continue tokens from before now answer 410.
    pub fn compact(&self) {
        lock(&self.shared.store).compact();
    }

    /// Cuts every open watch stream mid-stream (no terminating chunk).
    pub fn close_watches(&self) {
        lock(&self.shared.store).close_watches();
    }

    /// How many watch streams are open.
    pub fn watch_count(&self) -> usize {
        lock(&self.shared.store).watch_count()
    }

    /// Delays every response by `delay` (zero to stop).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    /// Answers the next `n` requests with `code` and a Status body.
    pub fn fail_next(&self, n: u32, code: u16) {
        *lock(&self.shared.failures) = (n, code);
    }

    /// Installs or uninstalls a CRD-based group.
    pub fn set_group_installed(&self, group: &str, installed: bool) {
        let mut p = lock(&self.shared.policy);
        if installed {
            p.missing_groups.remove(group);
        } else {
            p.missing_groups.insert(group.to_string());
        }
    }

    /// Forbids or allows a resource (`pods` or `plural.group`).
    pub fn set_forbidden(&self, resource: &str, forbidden: bool) {
        let mut p = lock(&self.shared.policy);
        if forbidden {
            p.forbidden.insert(resource.to_string());
        } else {
            p.forbidden.remove(resource);
        }
    }

    /// The request lines served so far (`GET /api/v1/pods?limit=500 HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// Stops serving: the port is closed (connections are refused) and every open
    /// connection is cut. The objects are kept for [`Handle::restart`].
    pub fn stop(&self) {
        self.shared.running.store(false, Ordering::SeqCst);
        if let Some(t) = lock(&self.accept).take() {
            let _ = t.join();
        }
        lock(&self.shared.store).close_watches();
        for (_, s) in lock(&self.shared.conns).drain() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Serves again on the same address after [`Handle::stop`].
    pub fn restart(&self) -> Result<(), String> {
        let mut accept = lock(&self.accept);
        if accept.is_some() {
            return Ok(());
        }
        let listener = bind(self.shared.addr)?;
        self.shared.running.store(true, Ordering::SeqCst);
        *accept = Some(spawn_accept(self.shared.clone(), listener));
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A kind named by `Kind`, `plural`, `plural.group`, or a group-version-resource path
/// (`apps/v1/deployments`, `v1/pods`). A bare name shared by two groups (NetworkPolicy)
/// means the built-in one, which the table lists first.
fn resolve_kind(name: &str) -> Option<usize> {
    if let Some((group_version, plural)) = name.rsplit_once('/') {
        let (group, version) = kinds::split_api_version(group_version);
        return KINDS
            .iter()
            .position(|k| k.group == group && k.version == version && k.plural == plural);
    }
    KINDS
        .iter()
        .position(|k| k.kind == name || k.plural == name)
        .or_else(|| {
            let (plural, group) = name.split_once('.')?;
            KINDS
                .iter()
                .position(|k| k.plural == plural && k.group == group)
        })
}
