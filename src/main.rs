//! The `gslb` command line.

fn main() {}
