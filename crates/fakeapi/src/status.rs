//! API errors and the `Status` bodies the real server answers them with.

use serde_json::{Value, json};

/// An error answered with a `Status` object.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code, repeated as the Status' `code`.
    pub code: u16,
    /// The Status' `reason` (`NotFound`, `Expired`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The Status' `details`, when the real server sends them.
    pub details: Option<Value>,
}

impl ApiError {
    /// An error without details.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// `{plural}[.{group}] "{name}" not found`, as for a missing object.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        let what = qualified(group, plural);
        ApiError::new(404, "NotFound", format!("{what} \"{name}\" not found")).with_details(
            group,
            plural,
            Some(name),
        )
    }

    /// The bare 404 the real server sends for a path it does not serve.
    pub fn no_route() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_raw_details(json!({}))
    }

    /// `410 Gone` for a resourceVersion or continue token older than the history.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// Adds `details` naming the object (`kind` holds the plural, as the server sends it).
    pub fn with_details(self, group: &str, plural: &str, name: Option<&str>) -> Self {
        let mut d = serde_json::Map::new();
        if let Some(name) = name {
            d.insert("name".into(), name.into());
        }
        if !group.is_empty() {
            d.insert("group".into(), group.into());
        }
        d.insert("kind".into(), plural.into());
        self.with_raw_details(Value::Object(d))
    }

    fn with_raw_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(d), Some(m)) = (&self.details, status.as_object_mut()) {
            m.insert("details".into(), d.clone());
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// `deployments.apps`, `pods`: how the server names a resource in messages.
pub fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// The HTTP reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// The `reason` the real server gives a failure of this code when nothing more is known.
pub fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}
