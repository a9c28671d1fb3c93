//! The rules that `health-runtime` applies at run time and `health-macros` at compile time, in
//! one place so that both say the same thing: the check and service [names](name), the
//! [statuses](Status) and probe [groups](Group), the [defaults] of a check's settings, and one
//! [duration grammar](duration).
//!
//! Use it through `health-runtime`, which re-exports what is public API (`Status`, `Group`,
//! `ParseNameError`); this crate exists because a procedural-macro crate cannot depend on the
//! runtime it generates code for.

pub mod defaults;
pub mod duration;
pub mod name;
mod settings;
mod words;

pub use settings::CheckSettings;
pub use words::{Group, ParseNameError, Status};
