//! Two manifest sets (the input split at the first `\n===\n`) through loading, the
//! engine and `diff` with evidence: nothing may panic.
#![no_main]

use kubeseg_engine::{Engine, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (old, new) = text.split_once("\n===\n").unwrap_or((&text, ""));
    let old = kubeseg_sources::load_str("old.yaml", old);
    let new = kubeseg_sources::load_str("new.yaml", new);
    let mut old_engine = Engine::new(&old.cluster, Options::default());
    let mut new_engine = Engine::new(&new.cluster, Options::default());
    let _ = kubeseg_analyses::diff::diff(&mut old_engine, &mut new_engine, true, &Default::default());
});
