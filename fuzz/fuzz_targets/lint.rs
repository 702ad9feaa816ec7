//! Any bytes through the loader, the engine, lint and the audit: nothing may panic.
#![no_main]

use kubeseg_analyses::audit::{AuditConfig, audit};
use kubeseg_analyses::lint::{LintConfig, lint};
use kubeseg_engine::{Engine, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let loaded = kubeseg_sources::load_str("fuzz.yaml", &text);
    let mut engine = Engine::new(&loaded.cluster, Options::default());
    let _ = lint(&mut engine, &loaded.diagnostics, &loaded.misfiled, &LintConfig::default());
    let config = AuditConfig { max_cut: 20, ..Default::default() };
    let _ = audit(&mut engine, &config);
});
