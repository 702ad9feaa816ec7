//! Any bytes through the ConnectivitySpec reader: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = kubeseg_sources::spec::parse_spec("fuzz.yaml", &text);
});
