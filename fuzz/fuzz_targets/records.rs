//! Bytes → a record file (JSON as `gslb crd-sync` writes it, or YAML)
//! merged into a fixed config and validated with it, as the server does
//! on every sidecar write. A result that loads is compiled and every name
//! answered (`gslb_fuzz::answer_every_name`).

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Two zones and a health check for the record file to refer to.
const CONFIG: &str = include_str!("records-config.yaml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files = [("records.json", text)];
    if let Ok(config) = gslb::config::load_from_text("records-config.yaml", CONFIG, &files) {
        gslb_fuzz::answer_every_name(&config);
    }
});
