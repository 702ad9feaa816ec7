//! The fuzzing corpus (`fuzz/corpus/lint`) replayed on stable: loading, lint and the
//! audit must finish without panicking on every input the fuzzer kept. A crash the
//! fuzzer finds is added to the corpus, so it stays a regression test here.

use kubeseg_analyses::audit::{AuditConfig, audit};
use kubeseg_analyses::lint::{LintConfig, lint};
use kubeseg_engine::{Engine, Options};
use std::path::Path;

#[test]
fn every_corpus_input_is_handled_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/lint");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/lint")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "the corpus is missing");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let loaded = kubeseg_sources::load_str("corpus.yaml", &text);
        let mut engine = Engine::new(&loaded.cluster, Options::default());
        let _ = lint(
            &mut engine,
            &loaded.diagnostics,
            &loaded.misfiled,
            &LintConfig::default(),
        );
        let config = AuditConfig {
            max_cut: 20,
            ..Default::default()
        };
        let _ = audit(&mut engine, &config);
    }
}
