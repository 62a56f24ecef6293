//! Writes gslb's test GeoIP databases, `test-city.mmdb` and `test-country.mmdb`.
//!
//! Run `cargo run --example geoip-generate [OUTPUT_DIR]` (default `geoip/`). The network
//! table is in `geoip/networks.rs`, documented in `geoip/README.md`; a unit test in
//! `src/geo` checks the committed files equal a fresh run.

use std::path::PathBuf;
use std::process::ExitCode;

mod networks;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("geoip"), PathBuf::from);
    match networks::write_databases(&dir) {
        Ok(()) => {
            println!(
                "wrote {} and {} in {}",
                networks::CITY_FILE,
                networks::COUNTRY_FILE,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("geoip-generate: writing into {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}
