//! `#[derive(HealthAware)]`: the `#[health(...)]` attributes of a struct and its fields, parsed
//! ([`ast`]), checked and validated by the same code as `#[health_check]` ([`valid`]), then one
//! `HealthAware` impl that builds a check per attribute against an instance ([`expand`]).

mod ast;
mod expand;
mod valid;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::errors::Errors;

/// The whole derive.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let checks = match ast::Input::from_syn(&input, &mut errors) {
        Some(parsed) => valid::checks(&parsed, &mut errors),
        None => Vec::new(),
    };
    expand::derive(&input, &checks, errors)
}
