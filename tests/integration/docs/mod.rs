//! The documentation, executed: README.md and the book (`docs/src`).

mod book;
mod ci;
mod cli;
mod readme;
mod schema;
