//! The documentation, executed.

mod ci;
mod cli;
mod readme;
mod schema;
