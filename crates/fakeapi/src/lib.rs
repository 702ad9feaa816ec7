//! A Kubernetes API server test double, served over loopback HTTP or HTTPS with real
//! sockets, for kubeseg's live-mode tests.
//!
//! It keeps objects in memory under one global resourceVersion counter and honours
//! the contracts clients rely on: discovery, paginated lists with consistent
//! snapshots, watches with bookmarks and 410 Gone after compaction, `Status` bodies,
//! bearer-token and client-certificate authentication, and injected faults. See the
//! crate's README for what it does not emulate.

mod base64;
mod conn;
pub mod discovery;
pub mod fixture;
mod handle;
mod handler;
pub mod http;
pub mod kinds;
pub mod kubeconfig;
mod objects;
pub mod selector;
mod server;
pub mod status;
pub mod store;
mod time;
pub mod tls;
mod watch;

pub use handle::Handle;
pub use kubeconfig::KubeconfigStyle;
pub use server::FakeApi;
pub use status::ApiError;
pub use tls::ClientCert;

#[cfg(test)]
mod tests {
    /// Tests hand the handle to other threads and async tasks.
    #[test]
    fn the_handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Handle>();
    }
}
