//! One accumulator for every compile error of an invocation, so the user sees all their mistakes
//! in one build (serde_derive `internals/ctxt.rs`).

use std::fmt::Display;

use quote::ToTokens;

/// The sort position of errors about the function itself, which follows the attribute.
pub(crate) const ITEM: usize = usize::MAX;

/// Collects errors; codegen runs only when none were recorded.
///
/// Each error carries a position (the index of the argument it is about, or [`ITEM`]) so that
/// they are reported in source order although they are found phase by phase.
#[derive(Default)]
pub(crate) struct Errors {
    errors: Vec<(usize, syn::Error)>,
}

impl Errors {
    /// Records an error that is already built, such as a syntax error from syn.
    pub(crate) fn push(&mut self, position: usize, error: syn::Error) {
        self.errors.push((position, error));
    }

    /// Records an error pointing at `tokens`.
    pub(crate) fn at(&mut self, position: usize, tokens: impl ToTokens, message: impl Display) {
        self.push(position, syn::Error::new_spanned(tokens, message));
    }

    /// How many errors were recorded.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether nothing went wrong.
    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The `compile_error!` invocations for everything recorded, in source order.
    pub(crate) fn into_compile_errors(mut self) -> proc_macro2::TokenStream {
        self.errors.sort_by_key(|&(position, _)| position);
        self.errors
            .into_iter()
            .map(|(_, error)| error)
            .reduce(|mut combined, error| {
                combined.combine(error);
                combined
            })
            .map(syn::Error::into_compile_error)
            .unwrap_or_default()
    }
}
