//! The documentation, executed.

mod cli;
mod readme;
mod schema;
