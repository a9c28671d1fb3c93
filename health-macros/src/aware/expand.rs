//! The `HealthAware` impl of a struct whose checks are valid (thiserror-impl `expand.rs`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use super::valid::{AwareCheck, Source};
use crate::codegen;
use crate::errors::Errors;

/// The impl, or every error found plus an impl with no checks, which keeps the rest of the
/// crate from failing on a missing `HealthAware`.
pub(super) fn derive(input: &DeriveInput, checks: &[AwareCheck], errors: Errors) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = if errors.is_empty() {
        let checks = checks.iter().map(check);
        quote!(::std::vec![#(#checks),*])
    } else {
        quote!(::std::vec::Vec::new())
    };
    let errors = errors.into_compile_errors();
    quote! {
        #errors
        #[automatically_derived]
        impl #impl_generics ::health_runtime::HealthAware for #ident #ty_generics #where_clause {
            fn health_checks(
                self: &::std::sync::Arc<Self>,
            ) -> ::std::vec::Vec<::health_runtime::Check> {
                #body
            }
        }
    }
}

/// One `health_runtime::Check` against the instance.
fn check(check: &AwareCheck) -> TokenStream {
    let this = format_ident!("__health_this");
    let run = run(&check.source, &this);
    let settings = codegen::settings(&check.settings);
    let site = codegen::site(check.span, &check.item);
    quote! {
        ::health_runtime::__private::aware_check(
            self,
            #settings,
            #site,
            |#this: ::std::sync::Arc<Self>| async move { #run },
        )
    }
}

/// One run of the check, given the instance as `this`.
fn run(source: &Source, this: &proc_macro2::Ident) -> TokenStream {
    match source {
        Source::Field { member, ty } => {
            // The type named and spanned at the field's type: one that is not an indicator is
            // reported there, once, with `HealthIndicator`'s message.
            quote_spanned! {ty.span()=>
                ::health_runtime::__private::run_indicator::<#ty>(&#this.#member).await
            }
        }
        Source::Method { ident } => {
            // Spanned at the method's name as written: a missing method, one with the wrong
            // parameters, a plain `fn` (with `CheckMethod`'s message, which names the method
            // through a unit struct of its name) or an unsupported return type is reported on
            // the string that names it. The call is awaited through `CheckMethod::Future`, which
            // does not exist when the call is not a future: no second error for the `.await`.
            let call = quote_spanned!(ident.span()=> #this.#ident());
            let output = quote_spanned!(ident.span()=> __health_output);
            quote_spanned! {ident.span()=>
                {
                    #[allow(non_camel_case_types)]
                    struct #ident;
                    let __health_future =
                        <_ as ::health_runtime::__private::CheckMethod<#ident>>::into_check_future(
                            #call,
                        );
                    let #output =
                        ::health_runtime::__private::method_output(__health_future).await;
                    ::health_runtime::IntoCheckOutcome::into_check_outcome(#output)
                }
            }
        }
    }
}
