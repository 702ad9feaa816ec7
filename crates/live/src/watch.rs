//! Following a cluster: one kube-runtime watcher per served kind (initial list, then
//! events; a re-list on 410 Gone; bookmarks; reconnects with backoff), turned into
//! object-level messages on a channel that a synchronous caller reads.

use crate::list::{Served, forbidden, object, served};
use crate::{LiveError, ReadObject, Target, client, config};
use futures_util::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kubeseg_model::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{Receiver, Sender, channel};

/// What the follower reports, in the order things happen.
#[derive(Debug)]
pub enum Message {
    /// Kinds not served or not readable, once, before anything else.
    Notes(Vec<Diagnostic>),
    /// An object was created or changed (as kubeseg reads it: a change to stripped
    /// bookkeeping alone is not reported).
    Apply(ReadObject),
    /// An object was deleted.
    Delete(ReadObject),
    /// Every served kind has been listed once: the objects so far are the cluster.
    Synced,
    /// A watch failed (disconnect, server down, 410 on resume); the watcher retries
    /// with backoff and re-lists when it must. Not fatal.
    Trouble(String),
}

/// Starts following the cluster on a thread of its own; messages arrive on the
/// receiver until the process ends. Connecting, discovery and the kubeconfig fail here.
pub fn follow(target: &Target, extra: &[(String, String)]) -> Result<Receiver<Message>, LiveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Runtime(e.to_string()))?;
    let (client, served) = runtime.block_on(async {
        let client = client(config(target).await?)?;
        let (served, note) = served(&client, extra).await?;
        Ok::<_, LiveError>((client, (served, note)))
    })?;
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("kubeseg-watch".into())
        .spawn(move || runtime.block_on(run(client, served.0, served.1, tx)))
        .map_err(|e| LiveError::Runtime(e.to_string()))?;
    Ok(rx)
}

/// Object identity: kind's place in the served list, namespace, name.
type Key = (usize, String, String);

async fn run(
    client: kube::Client,
    served: Vec<Served>,
    note: Option<Diagnostic>,
    tx: Sender<Message>,
) {
    let _ = tx.send(Message::Notes(note.into_iter().collect()));
    let streams = served.iter().enumerate().map(|(i, s)| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &s.resource);
        watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .map(move |e| (i, e))
            .boxed()
    });
    let mut events = futures_util::stream::select_all(streams);
    let mut state = State {
        served,
        objects: BTreeMap::new(),
        buffers: BTreeMap::new(),
        listed: BTreeSet::new(),
        forbidden: BTreeSet::new(),
        synced: false,
    };
    while let Some((i, event)) = events.next().await {
        let messages = match event {
            Ok(event) => state.event(i, event),
            Err(e) => state.error(i, &e),
        };
        for m in messages {
            if tx.send(m).is_err() {
                return;
            }
        }
    }
}

struct State {
    served: Vec<Served>,
    objects: BTreeMap<Key, ReadObject>,
    /// Objects of a kind being (re-)listed, swapped in whole when the list ends.
    buffers: BTreeMap<usize, BTreeMap<Key, ReadObject>>,
    /// Kinds listed at least once.
    listed: BTreeSet<usize>,
    /// Kinds RBAC hides: counted as listed (empty) and reported once.
    forbidden: BTreeSet<usize>,
    synced: bool,
}

impl State {
    fn read(&self, i: usize, o: DynamicObject) -> (Key, ReadObject) {
        let s = &self.served[i];
        let o = object(&s.group, &s.kind, &s.resource, o);
        ((i, o.namespace.clone(), o.name.clone()), o)
    }

    fn event(&mut self, i: usize, event: Event<DynamicObject>) -> Vec<Message> {
        match event {
            Event::Init => {
                self.buffers.insert(i, BTreeMap::new());
                Vec::new()
            }
            Event::InitApply(o) => {
                let (key, o) = self.read(i, o);
                self.buffers.entry(i).or_default().insert(key, o);
                Vec::new()
            }
            Event::InitDone => self.init_done(i),
            Event::Apply(o) => {
                let (key, o) = self.read(i, o);
                self.apply(key, o).into_iter().collect()
            }
            Event::Delete(o) => {
                let (key, _) = self.read(i, o);
                self.objects
                    .remove(&key)
                    .map(Message::Delete)
                    .into_iter()
                    .collect()
            }
        }
    }

    fn apply(&mut self, key: Key, o: ReadObject) -> Option<Message> {
        if self.objects.get(&key).is_some_and(|old| old.text == o.text) {
            return None;
        }
        self.objects.insert(key, o.clone());
        Some(Message::Apply(o))
    }

    /// A list ended: its objects replace the kind's, and the differences are reported.
    fn init_done(&mut self, i: usize) -> Vec<Message> {
        let fresh = self.buffers.remove(&i).unwrap_or_default();
        let gone: Vec<Key> = self
            .objects
            .range((i, String::new(), String::new())..(i + 1, String::new(), String::new()))
            .filter(|(k, _)| !fresh.contains_key(*k))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<Message> = gone
            .into_iter()
            .filter_map(|k| self.objects.remove(&k).map(Message::Delete))
            .collect();
        for (k, o) in fresh {
            out.extend(self.apply(k, o));
        }
        self.listed.insert(i);
        out.extend(self.sync_if_complete());
        out
    }

    fn sync_if_complete(&mut self) -> Option<Message> {
        if self.synced || self.listed.len() < self.served.len() {
            return None;
        }
        self.synced = true;
        Some(Message::Synced)
    }

    fn error(&mut self, i: usize, e: &watcher::Error) -> Vec<Message> {
        let forbidden_kind = match e {
            watcher::Error::InitialListFailed(kube::Error::Api(s))
            | watcher::Error::WatchStartFailed(kube::Error::Api(s))
                if s.code == 403 =>
            {
                Some(s.message.clone())
            }
            _ => None,
        };
        if let Some(message) = forbidden_kind {
            let mut out = Vec::new();
            if self.forbidden.insert(i) {
                out.push(Message::Notes(vec![forbidden(&self.served[i], &message)]));
            }
            self.listed.insert(i);
            out.extend(self.sync_if_complete());
            return out;
        }
        let s = &self.served[i];
        vec![Message::Trouble(format!(
            "watching {} failed, retrying: {}",
            s.resource.plural,
            crate::client::chain(e)
        ))]
    }
}
