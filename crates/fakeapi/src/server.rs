//! The builder, the running server's handle, the accept loop and connections.

use crate::handler;
use crate::http::{self, Conn, ReadError};
use crate::kinds::{self, BUILTIN_GROUPS, KINDS};
use crate::kubeconfig::{self, KubeconfigStyle};
use crate::status::ApiError;
use crate::store::Store;
use crate::tls::{ClientCert, Pki};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Locks a mutex, ignoring poisoning: a panicked connection thread must not take the
/// whole double down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Configures and starts a fake API server.
#[derive(Clone, Debug)]
pub struct FakeApi {
    token: Option<String>,
    user: String,
    tls: bool,
    require_client_cert: bool,
    missing_groups: BTreeSet<String>,
    forbidden: BTreeSet<String>,
    bookmark_interval: Duration,
    history: usize,
    listen: SocketAddr,
    objects: Vec<Value>,
}

impl Default for FakeApi {
    fn default() -> Self {
        FakeApi {
            token: None,
            user: "kubeseg-test".into(),
            tls: false,
            require_client_cert: false,
            missing_groups: BTreeSet::new(),
            forbidden: BTreeSet::new(),
            bookmark_interval: Duration::from_secs(5),
            history: 10_000,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            objects: Vec::new(),
        }
    }
}

impl FakeApi {
    /// Plain HTTP on an ephemeral loopback port, anonymous access, every group installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `Authorization: Bearer {token}` (or a client certificate).
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// The user name the token and minted certificates stand for in messages.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// Serves HTTPS with a generated CA.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Serves HTTPS and refuses handshakes without a client certificate from the CA.
    pub fn require_client_cert(mut self) -> Self {
        self.tls = true;
        self.require_client_cert = true;
        self
    }

    /// Leaves a CRD-based group uninstalled: absent from discovery, 404 on its paths.
    pub fn without_group(mut self, group: &str) -> Self {
        self.missing_groups.insert(group.to_string());
        self
    }

    /// Answers 403 for a resource (`pods`, or `networkpolicies.projectcalico.org`).
    pub fn forbid(mut self, resource: &str) -> Self {
        self.forbidden.insert(resource.to_string());
        self
    }

    /// How often watches that allow bookmarks get one.
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// How many events the watch history keeps; older resourceVersions answer 410.
    pub fn history(mut self, events: usize) -> Self {
        self.history = events;
        self
    }

    /// The address to listen on (default 127.0.0.1 on an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Adds one object to load at start.
    pub fn object(mut self, obj: Value) -> Self {
        self.objects.push(obj);
        self
    }

    /// Adds the objects of a YAML or JSON fixture file.
    pub fn fixture(mut self, path: &Path) -> Result<Self, String> {
        self.objects.extend(crate::fixture::read_file(path)?);
        Ok(self)
    }

    /// Adds the objects of a YAML or JSON text.
    pub fn fixture_str(mut self, text: &str) -> Result<Self, String> {
        self.objects.extend(crate::fixture::parse(text)?);
        Ok(self)
    }

    /// Loads the objects and starts serving. Objects of an unknown kind are an error.
    pub fn start(self) -> Result<Handle, String> {
        let mut store = Store::new(self.history);
        for obj in self.objects {
            let kind = kind_of_object(&obj)?;
            store.create(kind, obj).map_err(|e| e.message)?;
        }
        let (pki, tls_config) = if self.tls {
            let pki = Pki::generate()?;
            let config = pki.server_config(self.require_client_cert)?;
            (Some(pki), Some(config))
        } else {
            (None, None)
        };
        let listener = bind(self.listen)?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            policy: Mutex::new(Policy {
                missing_groups: self.missing_groups,
                forbidden: self.forbidden,
            }),
            token: self.token,
            user: self.user,
            pki,
            tls_config,
            bookmark_interval: self.bookmark_interval,
            delay: Mutex::new(Duration::ZERO),
            failures: Mutex::new((0, 500)),
            running: AtomicBool::new(true),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            addr,
            requests: Mutex::new(Vec::new()),
        });
        let accept = spawn_accept(shared.clone(), listener);
        Ok(Handle {
            shared,
            accept: Mutex::new(Some(accept)),
        })
    }
}

/// The kind index of an object, from its apiVersion and kind.
pub(crate) fn kind_of_object(obj: &Value) -> Result<usize, String> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let found = kinds::by_api_version(api_version, kind)
        .ok_or_else(|| format!("unknown kind: apiVersion `{api_version}`, kind `{kind}`"))?;
    KINDS
        .iter()
        .position(|k| k == found)
        .ok_or_else(|| "kind table".to_string())
}

/// Which groups are installed and which resources are forbidden; tests may change both.
#[derive(Debug)]
pub(crate) struct Policy {
    pub missing_groups: BTreeSet<String>,
    pub forbidden: BTreeSet<String>,
}

/// State shared by the handle and every connection.
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub policy: Mutex<Policy>,
    pub token: Option<String>,
    pub user: String,
    pub pki: Option<Pki>,
    pub tls_config: Option<Arc<rustls::ServerConfig>>,
    pub bookmark_interval: Duration,
    pub delay: Mutex<Duration>,
    pub failures: Mutex<(u32, u16)>,
    pub running: AtomicBool,
    pub conns: Mutex<HashMap<u64, TcpStream>>,
    pub next_conn: AtomicU64,
    pub addr: SocketAddr,
    pub requests: Mutex<Vec<String>>,
}

impl Shared {
    /// Whether a group is served (built in, or installed).
    pub fn served(&self, group: &str) -> bool {
        BUILTIN_GROUPS.contains(&group) || !lock(&self.policy).missing_groups.contains(group)
    }
}

/// A running fake API server. Dropping it stops the server.
pub struct Handle {
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Handle {
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

fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("listen on {addr}: {e}"))?;
    // Non-blocking, so the accept loop notices a stop within a few milliseconds.
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(listener)
}

fn spawn_accept(shared: Arc<Shared>, listener: TcpListener) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while shared.running.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    std::thread::spawn(move || serve(&shared, stream));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

/// What a connection knows about its client.
pub(crate) struct ConnInfo {
    /// The user a verified client certificate names.
    pub cert_user: Option<String>,
    /// The socket, so a watch on it can be cut.
    pub socket: Option<TcpStream>,
}

fn serve(shared: &Arc<Shared>, stream: TcpStream) {
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    if let Ok(s) = stream.try_clone() {
        lock(&shared.conns).insert(id, s);
    }
    let mut info = ConnInfo {
        cert_user: None,
        socket: stream.try_clone().ok(),
    };
    let conn = match &shared.tls_config {
        Some(config) => match handshake(config.clone(), stream) {
            Some((conn, der)) => {
                info.cert_user = der.and_then(|d| shared.pki.as_ref().and_then(|p| p.user_of(&d)));
                conn
            }
            None => {
                lock(&shared.conns).remove(&id);
                return;
            }
        },
        None => Conn::Plain(stream),
    };
    let mut reader = BufReader::new(conn);
    while shared.running.load(Ordering::SeqCst) {
        let req = match http::read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) | Err(ReadError::Io(_)) => break,
            Err(ReadError::Bad(code, msg)) => {
                let body = ApiError::new(code, crate::status::reason_for(code), msg)
                    .to_status()
                    .to_string();
                let _ = http::write_response(
                    reader.get_mut(),
                    code,
                    "application/json",
                    body.as_bytes(),
                    false,
                );
                break;
            }
        };
        match handler::handle(shared, reader.get_mut(), &req, &info) {
            Ok(true) if req.keep_alive => {}
            _ => break,
        }
    }
    lock(&shared.conns).remove(&id);
}

/// Completes a TLS handshake; returns the stream and the client certificate, if any.
fn handshake(
    config: Arc<rustls::ServerConfig>,
    mut sock: TcpStream,
) -> Option<(Conn, Option<Vec<u8>>)> {
    let mut tls = rustls::ServerConnection::new(config).ok()?;
    while tls.is_handshaking() {
        tls.complete_io(&mut sock).ok()?;
    }
    let der = tls
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec());
    Some((
        Conn::Tls(Box::new(rustls::StreamOwned::new(tls, sock))),
        der,
    ))
}
