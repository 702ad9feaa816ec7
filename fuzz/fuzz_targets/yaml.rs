//! Any bytes through the YAML reader alone: bounded depth and aliases, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kubeseg_sources::yaml::parse_documents(&text);
});
