//! `#[health_check]`: parse, validate, then register the function with the runtime.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::args::Args;
use crate::errors::{Errors, ITEM};
use crate::function::Function;
use crate::model::{Check, Group, Status};

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
    let settings = &check.settings;
    let name = &settings.name;
    let timeout = optional_duration(settings.timeout);
    let interval = optional_duration(settings.interval);
    let on_timeout = status(settings.on_timeout);
    let on_error = status(settings.on_error);
    let groups = settings.groups.iter().map(|&group| group_path(group));
    let service = match &settings.service {
        Some(service) => quote!(::core::option::Option::Some(#service)),
        None => quote!(::core::option::Option::None),
    };
    let failure_threshold = settings.failure_threshold;
    let item = ident.to_string();
    // `line!()` and `column!()` report where their own tokens come from: the function's name.
    let location = quote_spanned! {function.span()=>
        file: ::core::file!(),
        line: ::core::line!(),
        column: ::core::column!(),
    };
    quote! {
        const _: () = {
            #runner
            ::health_runtime::__private::inventory::submit! {
                ::health_runtime::__private::StaticCheck {
                    settings: ::health_runtime::__private::Settings {
                        name: #name,
                        timeout: #timeout,
                        on_timeout: #on_timeout,
                        on_error: #on_error,
                        interval: #interval,
                        groups: &[#(#groups),*],
                        service: #service,
                        failure_threshold: #failure_threshold,
                    },
                    site: ::health_runtime::__private::Site {
                        #location
                        item: ::core::concat!(::core::module_path!(), "::", #item),
                    },
                    run: ::health_runtime::__private::StaticRunner::#kind(__health_run),
                }
            }
        };
    }
}

pub(crate) fn optional_duration(duration: Option<std::time::Duration>) -> TokenStream {
    match duration {
        Some(duration) => {
            let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#millis)))
        }
        None => quote!(::core::option::Option::None),
    }
}

pub(crate) fn status(status: Status) -> TokenStream {
    match status {
        Status::Healthy => quote!(::health_runtime::Status::Healthy),
        Status::Warning => quote!(::health_runtime::Status::Warning),
        Status::Critical => quote!(::health_runtime::Status::Critical),
    }
}

pub(crate) fn group_path(group: Group) -> TokenStream {
    match group {
        Group::Liveness => quote!(::health_runtime::Group::Liveness),
        Group::Readiness => quote!(::health_runtime::Group::Readiness),
        Group::Startup => quote!(::health_runtime::Group::Startup),
    }
}
