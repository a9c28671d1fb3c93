//! Procedural macros for `health-runtime`.

mod args;
mod check;
mod duration;
mod errors;
mod function;
mod model;
mod name;
mod suggest;

use proc_macro::TokenStream;

/// Declares a health check.
#[proc_macro_attribute]
pub fn health_check(args: TokenStream, item: TokenStream) -> TokenStream {
    check::health_check(args.into(), item.into()).into()
}
