//! Procedural macros for `health-runtime`.

use proc_macro::TokenStream;

/// Declares a health check.
#[proc_macro_attribute]
pub fn health_check(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
