//! Lists (with pagination and snapshots), reads and writes of objects over HTTP.

use crate::http::Request;
use crate::kinds::{KINDS, Kind};
use crate::selector::Selector;
use crate::server::{Shared, lock};
use crate::status::ApiError;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `GET` on a collection (not a watch).
pub(crate) fn list(
    shared: &Shared,
    req: &Request,
    kind: usize,
    ns: Option<&str>,
) -> Result<Value, ApiError> {
    let k = &KINDS[kind];
    let selector = Selector::parse(req.param("labelSelector"), req.param("fieldSelector"))
        .map_err(ApiError::bad_request)?;
    let limit = match req.param("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit: {l}"))),
        },
    };
    let store = lock(&shared.store);
    let (rv, after) = match req.param("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, ns, name) = decode_continue(token)?;
            if rv < store.compacted() {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            (rv, Some((ns, name)))
        }
        None => (snapshot_rv(req, store.rv(), store.compacted())?, None),
    };
    let after_ref = after.as_ref().map(|(n, m)| (n.as_str(), m.as_str()));
    let page = store.list(kind, ns, rv, after_ref, limit, selector.as_ref())?;
    drop(store);
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), page.rv.to_string().into());
    if let Some((n, m)) = &page.next {
        meta.insert("continue".into(), encode_continue(page.rv, n, m).into());
        // The real server counts the rest only when no selector filters it.
        if selector.is_none() {
            meta.insert("remainingItemCount".into(), page.remaining.into());
        }
    }
    let items: Vec<Value> = page.items.iter().map(|o| list_item(k, o)).collect();
    Ok(json!({
        "kind": format!("{}List", k.kind),
        "apiVersion": k.api_version(),
        "metadata": meta,
        "items": items,
    }))
}

/// The snapshot a list without a continue token reads, from `resourceVersion` and
/// `resourceVersionMatch`.
fn snapshot_rv(req: &Request, current: u64, compacted: u64) -> Result<u64, ApiError> {
    let rv = req.param("resourceVersion").unwrap_or("");
    if rv.is_empty() || rv == "0" {
        return Ok(current);
    }
    let n: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
    if n > current {
        return Err(ApiError::new(
            504,
            "Timeout",
            format!("Too large resource version: {n}, current: {current}"),
        ));
    }
    match req.param("resourceVersionMatch").unwrap_or("") {
        "Exact" if n < compacted => Err(ApiError::expired(format!(
            "too old resource version: {n} ({compacted})"
        ))),
        "Exact" => Ok(n),
        "" | "NotOlderThan" => Ok(current),
        other => Err(ApiError::bad_request(format!(
            "unsupported resourceVersionMatch: {other}"
        ))),
    }
}

/// A list item: the real server leaves apiVersion and kind out of typed (built-in)
/// lists and keeps them for custom resources.
fn list_item(k: &Kind, obj: &Arc<Value>) -> Value {
    let mut item = (**obj).clone();
    if k.builtin()
        && let Some(m) = item.as_object_mut()
    {
        m.remove("apiVersion");
        m.remove("kind");
    }
    item
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let text = json!({"rv": rv, "ns": ns, "name": name}).to_string();
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
        .collect();
    let v: Value = serde_json::from_slice(&bytes.ok_or_else(bad)?).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let field = |f: &str| {
        v.get(f)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(bad)
    };
    Ok((rv, field("ns")?, field("name")?))
}

/// `GET` on one object.
pub(crate) fn get(shared: &Shared, kind: usize, ns: &str, name: &str) -> Result<Value, ApiError> {
    let k = &KINDS[kind];
    let obj = lock(&shared.store).get(kind, ns, name);
    obj.map(|o| (*o).clone())
        .ok_or_else(|| ApiError::not_found(k.group, k.plural, name))
}

/// Reads a request body (JSON, or YAML when the content type says so) and checks it
/// names this kind and namespace.
fn body(req: &Request, kind: usize, ns: Option<&str>) -> Result<Value, ApiError> {
    let k = &KINDS[kind];
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let yaml = req
        .header("content-type")
        .is_some_and(|c| c.contains("yaml"));
    let mut obj: Value = if yaml {
        crate::fixture::parse(text)
            .ok()
            .and_then(|v| v.into_iter().next())
            .unwrap_or(Value::Null)
    } else {
        serde_json::from_str(text).unwrap_or(Value::Null)
    };
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request is not an object",
        ));
    };
    let api_version = m.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let body_kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
    if !api_version.is_empty() || !body_kind.is_empty() {
        let named = crate::kinds::by_api_version(api_version, body_kind);
        if named != Some(k) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                k.api_version()
            )));
        }
    }
    let meta = m.entry("metadata").or_insert_with(|| json!({}));
    if let (Some(ns), Some(meta)) = (ns.filter(|_| k.namespaced), meta.as_object_mut()) {
        let given = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
        if !given.is_empty() && given != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta.insert("namespace".into(), ns.into());
    }
    Ok(obj)
}

/// `POST` on a collection.
pub(crate) fn create(
    shared: &Shared,
    req: &Request,
    kind: usize,
    ns: Option<&str>,
) -> Result<Value, ApiError> {
    let mut obj = body(req, kind, ns)?;
    let mut store = lock(&shared.store);
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let named = meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if let (false, Some(prefix)) = (named, meta.get("generateName").and_then(Value::as_str)) {
            let name = format!("{prefix}{}", suffix(store.rv() + 1));
            meta.insert("name".into(), name.into());
        }
    }
    Ok((*store.create(kind, obj)?).clone())
}

/// Five lowercase alphanumerics from a number, for generateName.
fn suffix(mut n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    for _ in 0..5 {
        out.push(char::from(ALPHABET[(n % ALPHABET.len() as u64) as usize]));
        n /= ALPHABET.len() as u64;
    }
    out
}

/// `PUT` on an object.
pub(crate) fn replace(
    shared: &Shared,
    req: &Request,
    kind: usize,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let obj = body(req, kind, Some(ns))?;
    check_name(&obj, name)?;
    Ok((*lock(&shared.store).replace(kind, obj)?).clone())
}

fn check_name(obj: &Value, name: &str) -> Result<(), ApiError> {
    let given = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if given != name {
        return Err(ApiError::bad_request(
            "the name of the object does not match the name on the URL",
        ));
    }
    Ok(())
}

/// `PATCH` on an object: JSON merge patches (RFC 7386). A strategic merge patch is
/// applied as a merge patch, which differs only in how lists with merge keys combine.
pub(crate) fn patch(
    shared: &Shared,
    req: &Request,
    kind: usize,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let k = &KINDS[kind];
    let content_type = req.header("content-type").unwrap_or("");
    if !content_type.starts_with("application/merge-patch+json")
        && !content_type.starts_with("application/strategic-merge-patch+json")
    {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (got {content_type})"
            ),
        ));
    }
    let patch: Value =
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut store = lock(&shared.store);
    let current = store
        .get(kind, ns, name)
        .ok_or_else(|| ApiError::not_found(k.group, k.plural, name))?;
    let mut obj = (*current).clone();
    merge(&mut obj, &patch);
    check_name(&obj, name)?;
    Ok((*store.replace(kind, obj)?).clone())
}

fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (key, value) in p {
            if value.is_null() {
                t.remove(key);
            } else {
                merge(t.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// `DELETE` on an object: 200 with its last state (deletion is immediate).
pub(crate) fn delete(
    shared: &Shared,
    kind: usize,
    ns: &str,
    name: &str,
) -> Result<Value, ApiError> {
    Ok((*lock(&shared.store).delete(kind, ns, name)?).clone())
}
