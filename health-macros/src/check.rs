//! `#[health_check]`: parse, validate, then register the function with the runtime.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::args::Args;
use crate::codegen;
use crate::errors::{Errors, ITEM};
use crate::function::Function;
use crate::model::Check;

/// The whole attribute: the user's item, unchanged, followed by its registration or by every
/// error found.
pub(crate) fn health_check(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    let function = match syn::parse2(item.clone()) {
        Ok(parsed) => Function::from_item(&parsed, &mut errors),
        Err(error) => {
            errors.push(ITEM, error);
            None
        }
    };
    match Check::new(&args, function, &mut errors) {
        Some(check) => {
            let registration = registration(&check);
            quote!(#item #registration)
        }
        None => {
            let errors = errors.into_compile_errors();
            quote!(#item #errors)
        }
    }
}

fn registration(check: &Check) -> TokenStream {
    let function = &check.function;
    let ident = &function.ident;
    // Spans decide where rustc's own errors land: the call and the future are spanned at the
    // function's name (a non-`Send` future is reported there); the value converted into an
    // outcome is bound to a variable spanned at the return type (an unsupported one is reported
    // there, with `IntoCheckOutcome`'s message).
    let call = quote_spanned!(ident.span()=> #ident());
    let output = quote_spanned!(function.output.span()=> __health_output);
    let convert = quote!(::health_runtime::IntoCheckOutcome::into_check_outcome(#output));
    let runner = if function.is_async {
        let future = quote_spanned! {ident.span()=>
            async move {
                let #output = #call.await;
                #convert
            }
        };
        let boxed =
            quote_spanned!(ident.span()=> ::health_runtime::__private::boxed_check(#future));
        quote! {
            fn __health_run() -> ::health_runtime::__private::BoxedCheck {
                #boxed
            }
        }
    } else {
        quote! {
            fn __health_run() -> ::core::result::Result<
                ::health_runtime::CheckOutcome,
                ::health_runtime::CheckError,
            > {
                let #output = #call;
                #convert
            }
        }
    };
    let kind = if function.is_async {
        quote!(Async)
    } else {
        quote!(Blocking)
    };
    let settings = codegen::settings(&check.settings);
    let site = codegen::site(function.span(), &ident.to_string());
    quote! {
        const _: () = {
            #runner
            ::health_runtime::__private::inventory::submit! {
                ::health_runtime::__private::StaticCheck {
                    settings: #settings,
                    site: #site,
                    run: ::health_runtime::__private::StaticRunner::#kind(__health_run),
                }
            }
        };
    }
}
