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

/// The files of `fuzz/corpus/NAME`, sorted.
fn corpus(name: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {name} corpus is empty");
    files
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
        .collect()
}

/// The reader, spec and diff targets' corpora, replayed as the targets run them.
#[test]
fn every_reader_spec_and_diff_corpus_input_is_handled_without_panicking() {
    for text in corpus("yaml") {
        let _ = kubeseg_sources::yaml::parse_documents(&text);
    }
    for text in corpus("json") {
        let _ = kubeseg_sources::json::parse_json(&text, |_| {});
    }
    for text in corpus("spec") {
        let _ = kubeseg_sources::spec::parse_spec("corpus.yaml", &text);
    }
    for text in corpus("diff") {
        let (old, new) = text.split_once("\n===\n").unwrap_or((&text, ""));
        let old = kubeseg_sources::load_str("old.yaml", old);
        let new = kubeseg_sources::load_str("new.yaml", new);
        let mut old_engine = Engine::new(&old.cluster, Options::default());
        let mut new_engine = Engine::new(&new.cluster, Options::default());
        let _ = kubeseg_analyses::diff::diff(
            &mut old_engine,
            &mut new_engine,
            true,
            &Default::default(),
        );
    }
}
