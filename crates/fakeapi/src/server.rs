//! The builder, and the state every connection shares.

use crate::conn::{bind, spawn_accept};
use crate::handle::Handle;
use crate::kinds::{self, BUILTIN_GROUPS, KINDS};
use crate::store::Store;
use crate::tls::Pki;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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
        Ok(Handle::new(shared, accept))
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
