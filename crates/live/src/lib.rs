//! Reading a running cluster: a kubeconfig's cluster, API discovery, and paginated
//! lists of every kind kubeseg reads, turned into the manifests the file loader reads.
//!
//! The loader decodes them exactly as it decodes files, so an answer from a cluster is
//! the answer from the same objects in files; only locations differ
//! (`Pod/default/web-0:12:7` instead of `file.yaml:12:7`).

mod client;
pub mod kinds;
mod list;
pub mod manifest;
mod strip;
pub mod watch;

pub use client::{Target, client, config};
pub use list::{REQUEST_TIMEOUT, Read, ReadObject, Served, read_objects, served, wanted};
pub use strip::strip;

/// Why a cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The kubeconfig is missing, unreadable or names no usable context.
    #[error("cannot use the kubeconfig: {0}")]
    Kubeconfig(String),
    /// The API server could not be reached (down, TLS failure, wrong address).
    #[error("cannot reach the API server at {url}: {message}")]
    Unreachable {
        /// The server URL the kubeconfig names.
        url: String,
        /// What failed.
        message: String,
    },
    /// A request failed with an error other than a forbidden or absent kind.
    #[error("{what} failed: {message}")]
    Request {
        /// Which request.
        what: String,
        /// The server's status or the transport error.
        message: String,
    },
    /// A request did not finish in time.
    #[error("{what} got no answer within {} s", list::REQUEST_TIMEOUT.as_secs())]
    Timeout {
        /// Which request.
        what: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
}

/// The error for a request `what` that failed with `e`.
pub(crate) fn refused(what: &str, e: &kube::Error) -> LiveError {
    LiveError::Request {
        what: what.to_string(),
        message: list::describe(e),
    }
}

/// Reads the cluster `target` names, blocking: connects, discovers, lists.
pub fn read_cluster(target: &Target, extra: &[(String, String)]) -> Result<Read, LiveError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Runtime(e.to_string()))?;
    runtime.block_on(async {
        let config = config(target).await?;
        let client = client(config)?;
        read_objects(&client, extra).await
    })
}
