//! Discovery and paginated lists: every object of the kinds kubeseg reads.

use crate::LiveError;
use crate::client::chain;
use crate::kinds::{CALICO_STORAGE, KINDS, qualified};
use crate::strip::strip;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::{ApiGroup, ApiResource, Discovery};
use kubeseg_model::Diagnostic;
use kubeseg_sources::NamedText;
use std::collections::BTreeSet;
use std::time::Duration;

/// Objects per page, as kubectl asks for.
const PAGE: u32 = 500;

/// How long one request may take before the read fails (a hung server must not hang
/// a CI job).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a list restarts when its continue token expires (410 Gone) mid-way.
const RELISTS: usize = 3;

/// What was read from a cluster.
#[derive(Debug, Default)]
pub struct Read {
    /// Each object as a manifest named `Kind/namespace/name`, in a fixed order: by kind
    /// as [`KINDS`] lists them, then namespace and name.
    pub objects: Vec<ReadObject>,
    /// Kinds that could not be read (RBAC) or are not served (no CRD).
    pub diagnostics: Vec<Diagnostic>,
}

/// One object from the cluster.
#[derive(Clone, Debug)]
pub struct ReadObject {
    /// Its API group (`""` for the core group).
    pub group: String,
    /// Its kind.
    pub kind: String,
    /// Its namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The object as pretty JSON, with `apiVersion` and `kind` set and bookkeeping
    /// stripped: text, not a tree, because a tree of every object of a large cluster
    /// is what a live read's memory went to.
    pub text: String,
}

impl ReadObject {
    /// Where diagnostics place it: `Kind/namespace/name`, the kind qualified by its group
    /// outside the built-in groups (`NetworkPolicy.projectcalico.org/ns/name`).
    pub fn location(&self) -> String {
        let kind = if qualified(&self.group) {
            format!("{}.{}", self.kind, self.group)
        } else {
            self.kind.clone()
        };
        if self.namespace.is_empty() {
            format!("{kind}/{}", self.name)
        } else {
            format!("{kind}/{}/{}", self.namespace, self.name)
        }
    }

    /// The object as kubeseg's loader reads it.
    pub fn named_text(&self) -> NamedText {
        NamedText {
            name: self.location(),
            text: self.text.clone(),
        }
    }

    /// The object as kubeseg's loader reads it, without a copy.
    pub fn into_named_text(self) -> NamedText {
        NamedText {
            name: self.location(),
            text: self.text,
        }
    }

    /// The object as a JSON tree (for writing it in another form).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_default()
    }
}

/// The (group, kind) pairs to read: [`KINDS`] and `extra` (kinds an operator catalog
/// expands into workloads), without repeats.
pub fn wanted(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    KINDS
        .iter()
        .map(|(g, k)| (g.to_string(), k.to_string()))
        .chain(extra.iter().cloned())
        .filter(|gk| seen.insert(gk.clone()))
        .collect()
}

/// The resources of the wanted kinds the cluster serves, in [`wanted`]'s order, and a
/// note naming those it does not serve.
pub async fn served(
    client: &Client,
    extra: &[(String, String)],
) -> Result<(Vec<Served>, Option<Diagnostic>), LiveError> {
    let mut wanted = wanted(extra);
    let mut groups: BTreeSet<String> = wanted.iter().map(|(g, _)| g.clone()).collect();
    groups.insert(CALICO_STORAGE.0.to_string());
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let discovery = tokio::time::timeout(
        REQUEST_TIMEOUT * 2,
        Discovery::new(client.clone()).filter(&names).run(),
    )
    .await
    .map_err(|_| LiveError::Timeout {
        what: "API discovery".into(),
    })?
    .map_err(|e| crate::refused("API discovery", &e))?;
    if discovery.get("projectcalico.org").is_none() {
        let (group, kinds) = CALICO_STORAGE;
        wanted.extend(kinds.iter().map(|k| (group.to_string(), k.to_string())));
    }
    let mut served = Vec::new();
    let mut absent = BTreeSet::new();
    let mut absent_groups = BTreeSet::new();
    for (group, kind) in wanted {
        let Some(g) = discovery.get(&group) else {
            absent_groups.insert(group);
            continue;
        };
        match find_kind(g, &kind) {
            Some(resource) => served.push(Served {
                group,
                kind,
                resource,
            }),
            None if group.is_empty() => {
                absent.insert(kind);
            }
            None => {
                absent.insert(format!("{kind}.{group}"));
            }
        }
    }
    let mut not_served = Vec::new();
    if !absent_groups.is_empty() {
        let groups: Vec<_> = absent_groups.into_iter().collect();
        not_served.push(format!("the API groups {}", groups.join(", ")));
    }
    if !absent.is_empty() {
        let kinds: Vec<_> = absent.into_iter().collect();
        not_served.push(format!("the kinds {}", kinds.join(", ")));
    }
    let note = (!not_served.is_empty()).then(|| {
        Diagnostic::info(
            "kind-not-served",
            None,
            format!(
                "the cluster does not serve {} (no such API or CRD), so it holds no object of them",
                not_served.join(", nor ")
            ),
        )
    });
    Ok((served, note))
}

/// A wanted kind the cluster serves.
#[derive(Clone, Debug)]
pub struct Served {
    /// Its API group.
    pub group: String,
    /// Its kind.
    pub kind: String,
    /// The resource to list and watch.
    pub resource: ApiResource,
}

/// Reads every object of the wanted kinds the cluster serves.
pub async fn read_objects(client: &Client, extra: &[(String, String)]) -> Result<Read, LiveError> {
    let (served, note) = served(client, extra).await?;
    let mut read = Read::default();
    for s in &served {
        match list_all(client, s).await {
            Ok(items) => read.objects.extend(items),
            Err(ListError::Forbidden(message)) => read.diagnostics.push(forbidden(s, &message)),
            Err(ListError::Gone) => {}
            Err(ListError::Other(e)) => return Err(e),
        }
    }
    read.diagnostics.extend(note);
    let order = |o: &ReadObject| {
        served
            .iter()
            .position(|s| s.group == o.group && s.kind == o.kind)
            .unwrap_or(usize::MAX)
    };
    read.objects
        .sort_by(|a, b| (order(a), &a.namespace, &a.name).cmp(&(order(b), &b.namespace, &b.name)));
    Ok(read)
}

/// The warning for a kind RBAC hides: the answer leaves it out, which every output says.
pub fn forbidden(s: &Served, message: &str) -> Diagnostic {
    Diagnostic::warning(
        "unreadable-kind",
        None,
        format!(
            "the cluster refused to list {} (HTTP 403: {message}): the answer leaves out every {} it holds; grant get, list and watch on it (see deploy/kubeseg.yaml)",
            plural(&s.resource),
            s.kind
        ),
    )
}

fn plural(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// The served resource of `kind` in `group`: in the preferred version if it has it,
/// else in the first other version that does (a group's kinds may sit in different
/// versions, as `policy.networking.k8s.io`'s do).
fn find_kind(group: &ApiGroup, kind: &str) -> Option<ApiResource> {
    let preferred = group.preferred_version_or_latest().to_string();
    std::iter::once(preferred)
        .chain(group.versions().map(str::to_string))
        .find_map(|v| {
            group
                .versioned_resources(&v)
                .into_iter()
                .find(|(r, caps)| r.kind == kind && caps.supports_operation("list"))
                .map(|(r, _)| r)
        })
}

/// A listed object with its type set (the server omits it on built-in lists' items).
pub fn object(group: &str, kind: &str, resource: &ApiResource, item: DynamicObject) -> ReadObject {
    let namespace = item.metadata.namespace.clone().unwrap_or_default();
    let name = item.metadata.name.clone().unwrap_or_default();
    let mut value = serde_json::to_value(&item).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("apiVersion".into(), resource.api_version.clone().into());
        obj.insert("kind".into(), kind.into());
    }
    strip(&mut value, kind);
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    ReadObject {
        group: group.to_string(),
        kind: kind.to_string(),
        namespace,
        name,
        text,
    }
}

enum ListError {
    Forbidden(String),
    /// The resource vanished between discovery and the list (its CRD was removed).
    Gone,
    Other(LiveError),
}

/// Every object of `resource`, page by page; a list whose continue token expires
/// starts again, as kubectl does.
async fn list_all(client: &Client, served: &Served) -> Result<Vec<ReadObject>, ListError> {
    use rayon::prelude::*;
    let resource = &served.resource;
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let what = format!("the list of {}", plural(resource));
    let mut restarts = 0;
    'list: loop {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(PAGE);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let page = tokio::time::timeout(REQUEST_TIMEOUT, api.list(&params))
                .await
                .map_err(|_| ListError::Other(LiveError::Timeout { what: what.clone() }))?;
            match page {
                Ok(page) => {
                    // Each page becomes text at once (on every core), so that only one
                    // page of parsed objects is ever held.
                    items.par_extend(
                        page.items
                            .into_par_iter()
                            .map(|o| object(&served.group, &served.kind, resource, o)),
                    );
                    token = page.metadata.continue_.filter(|t| !t.is_empty());
                    if token.is_none() {
                        return Ok(items);
                    }
                }
                Err(kube::Error::Api(status))
                    if status.code == 410 && token.is_some() && restarts < RELISTS =>
                {
                    restarts += 1;
                    continue 'list;
                }
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    return Err(ListError::Forbidden(status.message.clone()));
                }
                Err(kube::Error::Api(status)) if status.code == 404 => return Err(ListError::Gone),
                Err(e) => return Err(ListError::Other(crate::refused(&what, &e))),
            }
        }
    }
}

/// The error for a failed request, with the server's status when it gave one.
pub(crate) fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("HTTP {} {}: {}", s.code, s.reason, s.message),
        e => chain(e),
    }
}
