//! The object store: every version of every object since the last compaction, a
//! bounded event log for watches, and the open watchers. One global resourceVersion
//! counter orders every write, as etcd's revision does for the real server.

use crate::kinds::{KINDS, Kind};
use crate::selector::Selector;
use crate::status::{ApiError, qualified};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// Index into [`KINDS`], namespace ("" for cluster-scoped), name.
type Key = (usize, String, String);

/// Every state of one object, oldest first: resourceVersion and the object (`None`
/// once deleted).
type Versions = Vec<(u64, Option<Arc<Value>>)>;

/// What a watch event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was replaced.
    Modified,
    /// The object was deleted; the event carries its last state.
    Deleted,
}

impl EventType {
    /// The event's `type` on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One write, as a watch delivers it.
#[derive(Clone, Debug)]
pub struct Event {
    /// resourceVersion of the write.
    pub rv: u64,
    /// Index into [`KINDS`].
    pub kind: usize,
    /// Namespace ("" for cluster-scoped kinds).
    pub namespace: String,
    /// Event type.
    pub ty: EventType,
    /// The object after the write (before it, for a deletion).
    pub object: Arc<Value>,
    /// The object before the write, for a replacement.
    pub prev: Option<Arc<Value>>,
}

/// An event as one watcher sees it (a selector turns some replacements into
/// additions or deletions, as the real server's watch does).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// resourceVersion of the write.
    pub rv: u64,
    /// Event type for this watcher.
    pub ty: EventType,
    /// The object.
    pub object: Arc<Value>,
}

/// Which events a watcher wants.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Index into [`KINDS`].
    pub kind: usize,
    /// Only this namespace, or all.
    pub namespace: Option<String>,
    /// Only objects the selector matches.
    pub selector: Option<Arc<Selector>>,
}

impl Filter {
    /// The event as this watcher sees it, if at all.
    pub fn view(&self, e: &Event) -> Option<Delivery> {
        if self.kind != e.kind || self.namespace.as_deref().is_some_and(|n| n != e.namespace) {
            return None;
        }
        let deliver = |ty| {
            Some(Delivery {
                rv: e.rv,
                ty,
                object: e.object.clone(),
            })
        };
        let Some(sel) = &self.selector else {
            return deliver(e.ty);
        };
        let is = sel.matches(&e.object);
        match e.ty {
            EventType::Added | EventType::Deleted if is => deliver(e.ty),
            EventType::Modified => {
                let was = e.prev.as_ref().is_some_and(|p| sel.matches(p));
                match (was, is) {
                    (true, true) => deliver(EventType::Modified),
                    (false, true) => deliver(EventType::Added),
                    (true, false) => deliver(EventType::Deleted),
                    (false, false) => None,
                }
            }
            _ => None,
        }
    }
}

struct Watcher {
    filter: Filter,
    id: u64,
    tx: Sender<Delivery>,
    /// The connection, so a fault can cut it mid-stream.
    stream: Option<TcpStream>,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    /// Objects, sorted by namespace and name.
    pub items: Vec<Arc<Value>>,
    /// The snapshot's resourceVersion.
    pub rv: u64,
    /// Namespace and name of the last item, when more items follow.
    pub next: Option<(String, String)>,
    /// How many items follow this page.
    pub remaining: usize,
}

/// The store.
pub struct Store {
    rv: u64,
    versions: BTreeMap<Key, Versions>,
    log: VecDeque<Arc<Event>>,
    log_limit: usize,
    /// The oldest resourceVersion still served to watches, continue tokens and exact lists.
    compacted: u64,
    watchers: Vec<Watcher>,
    uids: u64,
    watcher_ids: u64,
}

impl Store {
    /// An empty store keeping at most `log_limit` events for watches.
    pub fn new(log_limit: usize) -> Self {
        Store {
            rv: 1,
            versions: BTreeMap::new(),
            log: VecDeque::new(),
            log_limit: log_limit.max(1),
            compacted: 1,
            watchers: Vec::new(),
            uids: 0,
            watcher_ids: 0,
        }
    }

    /// The current global resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion still served.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// The object as it is now.
    pub fn get(&self, kind: usize, ns: &str, name: &str) -> Option<Arc<Value>> {
        let key = (kind, ns.to_string(), name.to_string());
        self.versions
            .get(&key)
            .and_then(|v| v.last())
            .and_then(|(_, o)| o.clone())
    }

    /// Creates an object; `AlreadyExists` if one of that name is there.
    pub fn create(&mut self, kind: usize, obj: Value) -> Result<Arc<Value>, ApiError> {
        let (ns, name) = ident(&KINDS[kind], &obj)?;
        if self.get(kind, &ns, &name).is_some() {
            let k = &KINDS[kind];
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(k.group, k.plural)),
            )
            .with_details(k.group, k.plural, Some(&name)));
        }
        Ok(self.write(kind, ns, name, obj, None))
    }

    /// Replaces an object. A resourceVersion in the body must match the stored one
    /// (optimistic concurrency, as the real server checks it).
    pub fn replace(&mut self, kind: usize, obj: Value) -> Result<Arc<Value>, ApiError> {
        let k = &KINDS[kind];
        let (ns, name) = ident(k, &obj)?;
        let Some(old) = self.get(kind, &ns, &name) else {
            return Err(ApiError::not_found(k.group, k.plural, &name));
        };
        let sent = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        let stored = old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if sent.is_some_and(|s| !s.is_empty() && Some(s) != stored) {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", qualified(k.group, k.plural)),
            )
            .with_details(k.group, k.plural, Some(&name)));
        }
        Ok(self.write(kind, ns, name, obj, Some(old)))
    }

    /// Creates or replaces an object, whatever resourceVersion it carries.
    pub fn apply(&mut self, kind: usize, obj: Value) -> Result<Arc<Value>, ApiError> {
        let (ns, name) = ident(&KINDS[kind], &obj)?;
        let old = self.get(kind, &ns, &name);
        Ok(self.write(kind, ns, name, obj, old))
    }

    /// Deletes an object and returns its last state.
    pub fn delete(&mut self, kind: usize, ns: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let k = &KINDS[kind];
        let Some(old) = self.get(kind, ns, name) else {
            return Err(ApiError::not_found(k.group, k.plural, name));
        };
        self.rv += 1;
        let mut last = (*old).clone();
        set_meta(&mut last, "resourceVersion", self.rv.to_string().into());
        let last = Arc::new(last);
        let key = (kind, ns.to_string(), name.to_string());
        self.versions.entry(key).or_default().push((self.rv, None));
        self.publish(kind, ns.to_string(), EventType::Deleted, last.clone(), None);
        Ok(last)
    }

    fn write(
        &mut self,
        kind: usize,
        ns: String,
        name: String,
        mut obj: Value,
        old: Option<Arc<Value>>,
    ) -> Arc<Value> {
        let k = &KINDS[kind];
        self.rv += 1;
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), k.api_version().into());
            m.insert("kind".into(), k.kind.into());
        }
        set_meta(&mut obj, "name", name.clone().into());
        if k.namespaced {
            set_meta(&mut obj, "namespace", ns.clone().into());
        } else if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("namespace");
        }
        set_meta(&mut obj, "resourceVersion", self.rv.to_string().into());
        // The server owns uid and creationTimestamp: an update keeps the stored ones.
        for field in ["uid", "creationTimestamp"] {
            let kept = old
                .as_ref()
                .and_then(|o| o.get("metadata"))
                .and_then(|m| m.get(field));
            let given = obj
                .get("metadata")
                .and_then(|m| m.get(field))
                .filter(|v| !v.is_null());
            let value = match (kept, given) {
                (Some(v), _) | (None, Some(v)) => v.clone(),
                (None, None) if field == "uid" => {
                    self.uids += 1;
                    format!("00000000-0000-4000-8000-{:012x}", self.uids).into()
                }
                (None, None) => crate::time::now_rfc3339().into(),
            };
            set_meta(&mut obj, field, value);
        }
        let ty = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        let obj = Arc::new(obj);
        let key = (kind, ns.clone(), name);
        self.versions
            .entry(key)
            .or_default()
            .push((self.rv, Some(obj.clone())));
        self.publish(kind, ns, ty, obj.clone(), old);
        obj
    }

    fn publish(
        &mut self,
        kind: usize,
        namespace: String,
        ty: EventType,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
    ) {
        let event = Arc::new(Event {
            rv: self.rv,
            kind,
            namespace,
            ty,
            object,
            prev,
        });
        self.log.push_back(event.clone());
        while self.log.len() > self.log_limit {
            if let Some(old) = self.log.pop_front() {
                self.compacted = self.compacted.max(old.rv);
            }
        }
        // A watcher whose stream ended is dropped here.
        self.watchers
            .retain(|w| w.filter.view(&event).is_none_or(|d| w.tx.send(d).is_ok()));
    }

    /// Forgets all history up to now: older resourceVersions and continue tokens answer
    /// 410 Gone from here on.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
        self.log.clear();
        self.versions.retain(|_, versions| {
            if let Some(last) = versions.pop() {
                versions.clear();
                if last.1.is_some() {
                    versions.push(last);
                }
            }
            !versions.is_empty()
        });
    }

    /// One page of the objects of `kind` (in `ns`, or all) as they were at `rv`, starting
    /// after `after`.
    pub fn list(
        &self,
        kind: usize,
        ns: Option<&str>,
        rv: u64,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
        selector: Option<&Selector>,
    ) -> Result<Page, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted
            )));
        }
        let start = match after {
            Some((n, m)) => std::ops::Bound::Excluded((kind, n.to_string(), m.to_string())),
            None => std::ops::Bound::Included((kind, ns.unwrap_or("").to_string(), String::new())),
        };
        let mut items = Vec::new();
        let mut next = None;
        let mut remaining = 0;
        for ((k, n, m), versions) in self.versions.range((start, std::ops::Bound::Unbounded)) {
            if *k != kind || ns.is_some_and(|want| want != n) {
                break;
            }
            let Some(obj) = versions
                .iter()
                .rev()
                .find(|(v, _)| *v <= rv)
                .and_then(|(_, o)| o.clone())
            else {
                continue;
            };
            if selector.is_some_and(|s| !s.matches(&obj)) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
            } else {
                next = Some((n.clone(), m.clone()));
                items.push(obj);
            }
        }
        if remaining == 0 {
            next = None;
        }
        Ok(Page {
            items,
            rv,
            next,
            remaining,
        })
    }

    /// Events after `rv` that `filter` wants, for a watch starting there; 410 Gone when
    /// the history no longer reaches back to `rv`.
    pub fn events_since(&self, filter: &Filter, rv: u64) -> Result<Vec<Delivery>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.compacted
            )));
        }
        Ok(self
            .log
            .iter()
            .filter(|e| e.rv > rv)
            .filter_map(|e| filter.view(e))
            .collect())
    }

    /// Synthetic ADDED events for every object `filter` wants, as a watch from "" or "0"
    /// starts.
    pub fn current_as_added(&self, filter: &Filter) -> Vec<Delivery> {
        let (ns, sel) = (filter.namespace.as_deref(), filter.selector.as_deref());
        let Ok(page) = self.list(filter.kind, ns, self.rv, None, None, sel) else {
            return Vec::new();
        };
        page.items
            .into_iter()
            .map(|object| {
                let rv = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                Delivery {
                    rv,
                    ty: EventType::Added,
                    object,
                }
            })
            .collect()
    }

    /// Registers a watcher for events from now on; returns its id.
    pub fn subscribe(
        &mut self,
        filter: Filter,
        tx: Sender<Delivery>,
        stream: Option<TcpStream>,
    ) -> u64 {
        self.watcher_ids += 1;
        self.watchers.push(Watcher {
            id: self.watcher_ids,
            filter,
            tx,
            stream,
        });
        self.watcher_ids
    }

    /// Forgets a watcher whose stream ended.
    pub fn unsubscribe(&mut self, id: u64) {
        self.watchers.retain(|w| w.id != id);
    }

    /// Cuts every open watch: their connections are shut down mid-stream.
    pub fn close_watches(&mut self) {
        for w in self.watchers.drain(..) {
            if let Some(s) = w.stream {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// How many watches are open.
    pub fn watch_count(&self) -> usize {
        self.watchers.len()
    }
}

/// Namespace and name of an object about to be stored.
fn ident(kind: &Kind, obj: &Value) -> Result<(String, String), ApiError> {
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!(
                "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                kind.kind
            ),
        ));
    }
    if !kind.namespaced {
        return Ok((String::new(), name.to_string()));
    }
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    Ok((
        if ns.is_empty() { "default" } else { ns }.to_string(),
        name.to_string(),
    ))
}

fn set_meta(obj: &mut Value, field: &str, value: Value) {
    let Some(m) = obj.as_object_mut() else { return };
    let meta = m.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(field.to_string(), value);
    }
}
