//! Any bytes through the JSON reader alone: bounded depth, no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kubeseg_sources::json::parse_json(&text, |_| {});
});
