//! The code both macros emit for a check's validated settings and for where it was declared: one
//! expansion, so that `#[health_check]` and `#[derive(HealthAware)]` build the same
//! `__private::Settings` and `__private::Site` values.

use std::time::Duration;

use health_rules::{Group, Status};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::model::Settings;

/// The `::health_runtime::__private::Settings { ... }` constant expression for `settings`.
pub(crate) fn settings(settings: &Settings) -> TokenStream {
    let settings = &settings.check;
    let name = &settings.name;
    let timeout = optional_duration(settings.timeout);
    let on_timeout = status(settings.on_timeout);
    let on_error = status(settings.on_error);
    let interval = optional_duration(settings.interval);
    let groups = settings.groups.iter().map(|&group| self::group(group));
    let service = match &settings.service {
        Some(service) => quote!(::core::option::Option::Some(#service)),
        None => quote!(::core::option::Option::None),
    };
    let failure_threshold = Literal::u32_unsuffixed(settings.failure_threshold);
    quote! {
        ::health_runtime::__private::Settings {
            name: #name,
            timeout: #timeout,
            on_timeout: #on_timeout,
            on_error: #on_error,
            interval: #interval,
            groups: &[#(#groups),*],
            service: #service,
            failure_threshold: #failure_threshold,
        }
    }
}

/// The `::health_runtime::__private::Site { ... }` constant expression of a check declared at
/// `span` (the function, field or method name), which `item` names within its module.
pub(crate) fn site(span: Span, item: &str) -> TokenStream {
    // `line!()` and `column!()` report where their own tokens come from: `span`.
    let location = quote_spanned! {span=>
        file: ::core::file!(),
        line: ::core::line!(),
        column: ::core::column!(),
    };
    quote! {
        ::health_runtime::__private::Site {
            #location
            item: ::core::concat!(::core::module_path!(), "::", #item),
        }
    }
}

/// `Some(duration)` to the nanosecond, or `None` for the runtime's default.
fn optional_duration(duration: Option<Duration>) -> TokenStream {
    match duration {
        Some(duration) => {
            let secs = Literal::u64_unsuffixed(duration.as_secs());
            let nanos = Literal::u32_unsuffixed(duration.subsec_nanos());
            quote!(::core::option::Option::Some(::core::time::Duration::new(#secs, #nanos)))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn status(status: Status) -> TokenStream {
    let variant = Ident::new(status.variant(), Span::call_site());
    quote!(::health_runtime::Status::#variant)
}

fn group(group: Group) -> TokenStream {
    let variant = Ident::new(group.variant(), Span::call_site());
    quote!(::health_runtime::Group::#variant)
}
