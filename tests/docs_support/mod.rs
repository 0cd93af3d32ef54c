//! Support for tests/docs.rs: reading the docs, the shell convention, the walk-through
//! substitutions and the generated Certificate reference. Pure code, unit-tested here.

pub mod flow;
pub mod markdown;
pub mod reference;
pub mod shell;
