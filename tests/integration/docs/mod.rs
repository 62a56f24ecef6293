//! The documentation, executed.

mod readme;
