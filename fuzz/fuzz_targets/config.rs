//! Bytes → the config loader (YAML, or JSON when the text opens an object,
//! and validation) → a config or errors; never a panic, and bounded in
//! memory and time (libFuzzer's `-rss_limit_mb` and `-timeout`). A config
//! that loads is compiled and every name in it answered
//! (`gslb_fuzz::answer_every_name`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = gslb::config::load_from_text("fuzz.yaml", text, &[]) {
        gslb_fuzz::answer_every_name(&config);
    }
});
