//! Connecting to the cluster a kubeconfig names.

use crate::LiveError;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::PathBuf;

/// Which cluster to read: `--kubeconfig` and `--context`, both optional.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// A kubeconfig file; `None` reads `KUBECONFIG` (its paths merged, as kubectl does)
    /// or `~/.kube/config`, and inside a pod (without a context) its service account.
    pub kubeconfig: Option<PathBuf>,
    /// A context of that kubeconfig; `None` is its `current-context`.
    pub context: Option<String>,
}

/// The client configuration `target` describes: server URL, TLS (CA data, client
/// certificates, `insecure-skip-tls-verify`, plain HTTP), bearer tokens and exec
/// credential plugins, all as kube-rs reads a kubeconfig.
pub async fn config(target: &Target) -> Result<Config, LiveError> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        cluster: None,
        user: None,
    };
    let loaded = match &target.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| LiveError::Kubeconfig(format!("{}: {}", path.display(), chain(&e))))?;
            Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None if let Some(merged) = from_environment()? => {
            Config::from_custom_kubeconfig(merged, &options).await
        }
        // Neither flag names a file or a context: read ~/.kube/config, or inside a pod
        // its service account, as kubectl and client-go do.
        None if target.context.is_none() => {
            return Config::infer()
                .await
                .map_err(|e| LiveError::Kubeconfig(chain(&e)));
        }
        None => Config::from_kubeconfig(&options).await,
    };
    loaded.map_err(|e| LiveError::Kubeconfig(chain(&e)))
}

/// The files `KUBECONFIG` lists, merged in order (the first to set a field wins), the
/// ones that do not exist skipped, as client-go does; `None` when it names none.
fn from_environment() -> Result<Option<Kubeconfig>, LiveError> {
    let Some(list) = std::env::var_os("KUBECONFIG") else {
        return Ok(None);
    };
    let mut merged: Option<Kubeconfig> = None;
    for path in std::env::split_paths(&list).filter(|p| p.is_file()) {
        let next = Kubeconfig::read_from(&path)
            .map_err(|e| LiveError::Kubeconfig(format!("{}: {}", path.display(), chain(&e))))?;
        merged = Some(match merged {
            None => next,
            Some(m) => m
                .merge(next)
                .map_err(|e| LiveError::Kubeconfig(chain(&e)))?,
        });
    }
    Ok(merged)
}

/// A client for `config`.
pub fn client(config: Config) -> Result<Client, LiveError> {
    let url = config.cluster_url.to_string();
    Client::try_from(config).map_err(|e| LiveError::Unreachable {
        url,
        message: chain(&e),
    })
}

/// An error with its causes, as one line: kube's errors nest the useful part.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
