//! `kubeseg-fakeapi --fixture PATH... --listen 127.0.0.1:PORT [--token T] [--tls]
//! [--no-group GROUP ...] [--forbid RESOURCE ...] [--kubeconfig FILE]`: serves the
//! fixtures until killed.

use kubeseg_fakeapi::{FakeApi, KubeconfigStyle};
use std::path::PathBuf;

const USAGE: &str = "usage: kubeseg-fakeapi [--fixture PATH]... [--listen ADDR] [--token T] [--tls] [--client-certs] [--no-group GROUP]... [--forbid RESOURCE]... [--bookmark-seconds N] [--kubeconfig FILE]";

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() {
    if let Err(e) = run() {
        eprintln!("kubeseg-fakeapi: {e}");
        std::process::exit(2);
    }
}

#[allow(clippy::print_stdout)]
fn run() -> Result<(), String> {
    let mut api = FakeApi::new();
    let mut kubeconfig: Option<PathBuf> = None;
    let mut client_certs = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        api = match arg.as_str() {
            "--fixture" => api.fixture(&PathBuf::from(value()?))?,
            "--listen" => api.listen(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--token" => api.token(&value()?),
            "--tls" => api.tls(),
            "--client-certs" => {
                client_certs = true;
                api.require_client_cert()
            }
            "--no-group" => api.without_group(&value()?),
            "--forbid" => api.forbid(&value()?),
            "--bookmark-seconds" => {
                let secs: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--bookmark-seconds: {e}"))?;
                api.bookmark_interval(std::time::Duration::from_secs(secs))
            }
            "--kubeconfig" => {
                kubeconfig = Some(PathBuf::from(value()?));
                api
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        };
    }
    let handle = api.start()?;
    if let Some(path) = kubeconfig {
        let style = if client_certs {
            KubeconfigStyle::ClientCert
        } else {
            KubeconfigStyle::Token
        };
        let text = handle.kubeconfig(style)?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{}", handle.url());
    loop {
        std::thread::park();
    }
}
