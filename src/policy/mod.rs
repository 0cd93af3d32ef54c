//! Pure decisions about Certificates: does it need (re-)issuing and why, is it Ready, when to
//! retry after a failure. Input structs in, verdicts out; `now` is always passed in.

pub mod backoff;
pub mod conflicts;
pub mod facts;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod gather;
pub mod readiness;
pub mod trigger;
