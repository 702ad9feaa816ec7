//! One request: faults, authentication, routing, authorization, then the answer.

use crate::conn::ConnInfo;
use crate::discovery;
use crate::http::{self, Conn, Request};
use crate::kinds::{self, KINDS};
use crate::server::{Shared, lock};
use crate::status::{ApiError, qualified, reason_for};
use crate::{objects, watch};
use serde_json::Value;
use std::io;
use std::sync::Arc;

/// How many request lines [`crate::Handle::requests`] keeps.
const MAX_LOGGED_REQUESTS: usize = 100_000;

/// What a path names.
#[derive(Debug, PartialEq)]
pub(crate) enum Target {
    Root,
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    Collection {
        kind: usize,
        ns: Option<String>,
    },
    Object {
        kind: usize,
        ns: String,
        name: String,
    },
}

/// Paths anonymous clients may read even when a token is required (the real server's
/// system:public-info-viewer role).
fn public(path: &str) -> bool {
    matches!(path, "/version" | "/healthz" | "/readyz" | "/livez")
}

/// Answers one request; `Ok(true)` when the connection may serve another.
pub(crate) fn handle(
    shared: &Arc<Shared>,
    w: &mut Conn,
    req: &Request,
    info: &ConnInfo,
) -> io::Result<bool> {
    {
        // Bounded, so a long benchmark run does not grow without end.
        let mut log = lock(&shared.requests);
        if log.len() >= MAX_LOGGED_REQUESTS {
            log.drain(..MAX_LOGGED_REQUESTS / 2);
        }
        log.push(req.line.clone());
    }
    let delay = *lock(&shared.delay);
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let injected = {
        let mut f = lock(&shared.failures);
        (f.0 > 0).then(|| {
            f.0 -= 1;
            f.1
        })
    };
    if let Some(code) = injected {
        return reply_error(
            w,
            req,
            &ApiError::new(code, reason_for(code), "fakeapi: injected failure"),
        );
    }
    let user = match authenticate(shared, req, info) {
        Ok(user) => user,
        Err(e) => return reply_error(w, req, &e),
    };
    let target = match route(shared, &req.path) {
        Ok(t) => t,
        Err(e) => return reply_error(w, req, &e),
    };
    if let Err(e) = authorize(shared, req, &target, &user) {
        return reply_error(w, req, &e);
    }
    if let Target::Collection { kind, ns } = &target
        && req.method == "GET"
        && is_watch(req)
    {
        return watch::serve(shared, w, req, *kind, ns.clone(), info);
    }
    match answer(shared, req, target) {
        Ok((code, body, content_type)) => {
            http::write_response(
                w,
                code,
                content_type,
                body.to_string().as_bytes(),
                req.keep_alive,
            )?;
            Ok(true)
        }
        Err(e) => reply_error(w, req, &e),
    }
}

fn reply_error(w: &mut Conn, req: &Request, e: &ApiError) -> io::Result<bool> {
    let body = e.to_status().to_string();
    http::write_response(
        w,
        e.code,
        "application/json",
        body.as_bytes(),
        req.keep_alive,
    )?;
    Ok(true)
}

fn authenticate(shared: &Shared, req: &Request, info: &ConnInfo) -> Result<String, ApiError> {
    if let Some(user) = &info.cert_user {
        return Ok(user.clone());
    }
    let bearer = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let unauthorized = || ApiError::new(401, "Unauthorized", "Unauthorized");
    match (&shared.token, bearer) {
        (Some(t), Some(b)) if t == b => Ok(shared.user.clone()),
        (_, Some(_)) => Err(unauthorized()),
        (Some(_), None) if !public(&req.path) => Err(unauthorized()),
        _ => Ok("system:anonymous".into()),
    }
}

/// Reads a path the way the real server's mux does.
pub(crate) fn route(shared: &Shared, path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [] => Ok(Target::Root),
        ["version"] => Ok(Target::Version),
        ["healthz" | "readyz" | "livez"] => Ok(Target::Health),
        ["api"] => Ok(Target::CoreVersions),
        ["api", "v1"] => Ok(Target::Resources(String::new(), "v1".into())),
        ["api", "v1", rest @ ..] => resource("", "v1", rest),
        ["apis"] => Ok(Target::Groups),
        ["apis", g, rest @ ..] if shared.served(g) && !kinds::versions_of(g).is_empty() => {
            match rest {
                [] => Ok(Target::Group(g.to_string())),
                [v] if kinds::versions_of(g).contains(v) => {
                    Ok(Target::Resources(g.to_string(), v.to_string()))
                }
                [v, rest @ ..] if kinds::versions_of(g).contains(v) => resource(g, v, rest),
                _ => Err(ApiError::no_route()),
            }
        }
        _ => Err(ApiError::no_route()),
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let index = |plural: &str| {
        KINDS
            .iter()
            .position(|k| k.group == group && k.version == version && k.plural == plural)
    };
    let found = |plural: &str, namespaced: bool| {
        index(plural)
            .filter(|&i| KINDS[i].namespaced == namespaced)
            .ok_or_else(ApiError::no_route)
    };
    match rest {
        // `/api/v1/namespaces` lists namespaces; `namespaces/{ns}` is a namespace object
        // and `namespaces/{ns}/{plural}` a namespaced collection.
        [plural] => {
            let kind = index(plural).ok_or_else(ApiError::no_route)?;
            Ok(Target::Collection { kind, ns: None })
        }
        ["namespaces", ns, plural] => Ok(Target::Collection {
            kind: found(plural, true)?,
            ns: Some(ns.to_string()),
        }),
        ["namespaces", ns, plural, name] => Ok(Target::Object {
            kind: found(plural, true)?,
            ns: ns.to_string(),
            name: name.to_string(),
        }),
        [plural, name] => Ok(Target::Object {
            kind: found(plural, false)?,
            ns: String::new(),
            name: name.to_string(),
        }),
        _ => Err(ApiError::no_route()),
    }
}

/// `watch=1`, `watch=true` and the other spellings Go's strconv.ParseBool reads as true.
pub(crate) fn is_watch(req: &Request) -> bool {
    req.param("watch")
        .is_some_and(|v| matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

fn verb(req: &Request, target: &Target) -> &'static str {
    let object = matches!(target, Target::Object { .. });
    match (req.method.as_str(), object) {
        ("GET", false) if is_watch(req) => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => "unknown",
    }
}

/// 403 for a forbidden resource, with the real server's message.
fn authorize(shared: &Shared, req: &Request, target: &Target, user: &str) -> Result<(), ApiError> {
    let (kind, ns, name) = match target {
        Target::Collection { kind, ns } => (*kind, ns.as_deref(), None),
        Target::Object { kind, ns, name } => (
            *kind,
            Some(ns.as_str()).filter(|n| !n.is_empty()),
            Some(name.as_str()),
        ),
        _ => return Ok(()),
    };
    let k = &KINDS[kind];
    let policy = lock(&shared.policy);
    if !policy.forbidden.contains(k.plural)
        && !policy.forbidden.contains(&qualified(k.group, k.plural))
    {
        return Ok(());
    }
    let what = match name {
        Some(n) => format!("{} \"{n}\"", qualified(k.group, k.plural)),
        None => qualified(k.group, k.plural),
    };
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message = format!(
        "{what} is forbidden: User \"{user}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
        verb(req, target),
        k.plural,
        k.group
    );
    Err(ApiError::new(403, "Forbidden", message).with_details(k.group, k.plural, name))
}

type Answer = (u16, Value, &'static str);

fn answer(shared: &Shared, req: &Request, target: Target) -> Result<Answer, ApiError> {
    let json = "application/json";
    let get_only = |v: Value| {
        if req.method == "GET" {
            Ok((200, v, json))
        } else {
            Err(method_not_allowed())
        }
    };
    let aggregated = discovery::wants_aggregated(req.header("accept"));
    let served = |g: &str| shared.served(g);
    match target {
        Target::Root => get_only(
            serde_json::json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]}),
        ),
        Target::Version => get_only(discovery::version()),
        Target::Health => get_only(Value::String("ok".into())),
        Target::CoreVersions if aggregated => get_only(discovery::aggregated(true, served))
            .map(|(c, v, _)| (c, v, discovery::AGGREGATED_CONTENT_TYPE)),
        Target::CoreVersions => get_only(discovery::core_versions(&shared.addr.to_string())),
        Target::Groups if aggregated => get_only(discovery::aggregated(false, served))
            .map(|(c, v, _)| (c, v, discovery::AGGREGATED_CONTENT_TYPE)),
        Target::Groups => get_only(discovery::group_list(served)),
        Target::Group(g) => get_only(discovery::group(&g)),
        Target::Resources(g, v) => get_only(discovery::resource_list(&g, &v)),
        Target::Collection { kind, ns } => match req.method.as_str() {
            "GET" => objects::list(shared, req, kind, ns.as_deref()).map(|v| (200, v, json)),
            // Namespaced kinds are created under a namespace path only.
            "POST" if KINDS[kind].namespaced && ns.is_none() => Err(method_not_allowed()),
            "POST" => objects::create(shared, req, kind, ns.as_deref()).map(|v| (201, v, json)),
            _ => Err(method_not_allowed()),
        },
        Target::Object { kind, ns, name } => match req.method.as_str() {
            "GET" => objects::get(shared, kind, &ns, &name).map(|v| (200, v, json)),
            "PUT" => objects::replace(shared, req, kind, &ns, &name).map(|v| (200, v, json)),
            "PATCH" => objects::patch(shared, req, kind, &ns, &name).map(|v| (200, v, json)),
            "DELETE" => objects::delete(shared, kind, &ns, &name).map(|v| (200, v, json)),
            _ => Err(method_not_allowed()),
        },
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}
