//! `#[derive(HealthAware)]`: the `#[health(...)]` attributes of a struct and its fields, parsed
//! and validated by the same code as `#[health_check]`, then one `HealthAware` impl that builds a
//! check per attribute against an instance.

use std::collections::HashMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Member, Meta, Type};

use crate::args::Args;
use crate::check::{group_path, optional_duration, status};
use crate::errors::{Errors, ITEM};
use crate::model::{Settings, string_value};
use crate::name::derived_name_error;

/// What a check runs: an indicator field, or a method.
enum Source {
    Field { member: Member, ty: Box<Type> },
    Method { ident: Ident },
}

/// One validated check of the struct.
struct AwareCheck {
    source: Source,
    settings: Settings,
    /// Where the check's location points (the field or the method name).
    span: Span,
    /// `Struct.field` or `Struct::method`, for the location's `item`.
    item: String,
}

/// The whole derive: the impl, or every error found plus an impl that keeps the rest of the
/// crate from failing on a missing `HealthAware`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let checks = collect(&input, &mut errors);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = if errors.is_empty() {
        let checks = checks.iter().map(expand_check);
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

fn health_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| attr.path().is_ident("health"))
}

fn collect(input: &DeriveInput, errors: &mut Errors) -> Vec<AwareCheck> {
    let fields = match &input.data {
        Data::Struct(data) => &data.fields,
        Data::Enum(data) => {
            let (token, ident) = (&data.enum_token, &input.ident);
            errors.at(
                ITEM,
                quote!(#token #ident),
                "`#[derive(HealthAware)]` can only be applied to a struct: its checks run \
                 against the fields of one instance; derive it on the handler struct instead",
            );
            return Vec::new();
        }
        Data::Union(data) => {
            let (token, ident) = (&data.union_token, &input.ident);
            errors.at(
                ITEM,
                quote!(#token #ident),
                "`#[derive(HealthAware)]` can only be applied to a struct: its checks run \
                 against the fields of one instance; derive it on the handler struct instead",
            );
            return Vec::new();
        }
    };
    let ty_name = input.ident.unraw().to_string();
    let mut index = 0;
    let mut checks = Vec::new();
    for attr in health_attrs(&input.attrs) {
        let args = parse(attr, &mut index, errors);
        if let Some(skip) = args.skip {
            errors.at(
                index,
                quote_spanned!(skip=> skip),
                "`skip` belongs on a field; on the struct, `#[health(...)]` names a method with \
                 `method = \"...\"`",
            );
            continue;
        }
        let Some(method_arg) = &args.method else {
            errors.at(
                index,
                attr,
                "a `#[health(...)]` on the struct names the method that runs the check; add \
                 `method = \"check_cache\"`, or put the attribute on an indicator field",
            );
            continue;
        };
        let expected = "expected the name of a method as a string, such as `\"check_cache\"`";
        let Some(literal) = string_value(method_arg, expected, errors) else {
            continue;
        };
        let Ok(ident) = syn::parse_str::<Ident>(&literal.value()) else {
            errors.at(
                method_arg.index,
                literal,
                format!(
                    "`{}` is not a method name; write the name of an `async fn(&self)` of `{ty_name}`",
                    literal.value()
                ),
            );
            continue;
        };
        let ident = Ident::new(&ident.unraw().to_string(), literal.span());
        let default = ident.to_string();
        let settings = Settings::new(
            &args,
            |errors| match derived_name_error(&default, "method", "check") {
                Some(message) => {
                    errors.at(method_arg.index, literal, message);
                    None
                }
                None => Some(default.clone()),
            },
            errors,
        );
        if let Some(settings) = settings {
            checks.push(AwareCheck {
                item: format!("{ty_name}::{ident}"),
                span: literal.span(),
                source: Source::Method { ident },
                settings,
            });
        }
    }
    for (position, field) in fields.iter().enumerate() {
        let mut seen: Option<Span> = None;
        for attr in health_attrs(&field.attrs) {
            let args = parse(attr, &mut index, errors);
            if seen.is_some() {
                errors.at(
                    index,
                    attr,
                    "a field is one check: give it one `#[health(...)]` attribute; for more checks \
                     name methods on the struct",
                );
                continue;
            }
            seen = Some(attr.span());
            if let Some(method) = &args.method {
                errors.at(
                    method.index,
                    &method.key,
                    "`method` belongs on the struct's `#[health(...)]`; on a field, the field's \
                     type is the check (it implements `HealthIndicator`)",
                );
                continue;
            }
            if args.skip.is_some() {
                let others = [
                    &args.name,
                    &args.timeout,
                    &args.on_timeout,
                    &args.on_error,
                    &args.interval,
                    &args.groups,
                    &args.service,
                    &args.failure_threshold,
                ];
                if let Some(other) = others.into_iter().flatten().next() {
                    errors.at(
                        other.index,
                        &other.key,
                        "a skipped field is not a check; remove `skip` or the check's arguments",
                    );
                }
                continue;
            }
            let (member, default, item): (Member, Option<(String, Span)>, String) =
                match &field.ident {
                    Some(ident) => {
                        let name = ident.unraw().to_string();
                        (
                            Member::Named(ident.clone()),
                            Some((name.clone(), ident.span())),
                            format!("{ty_name}.{name}"),
                        )
                    }
                    None => (
                        Member::Unnamed(syn::Index {
                            index: u32::try_from(position).unwrap_or(u32::MAX),
                            span: field.ty.span(),
                        }),
                        None,
                        format!("{ty_name}.{position}"),
                    ),
                };
            let span = field
                .ident
                .as_ref()
                .map_or_else(|| field.ty.span(), Ident::span);
            let attr_index = index;
            let settings = Settings::new(
                &args,
                |errors| match default {
                    Some((name, span)) => match derived_name_error(&name, "field", "check") {
                        Some(message) => {
                            errors.at(attr_index, quote_spanned!(span=> #name), message);
                            None
                        }
                        None => Some(name),
                    },
                    None => {
                        errors.at(
                            attr_index,
                            attr,
                            "a tuple field has no name to give its check; add \
                             `check = \"database\"`",
                        );
                        None
                    }
                },
                errors,
            );
            if let Some(settings) = settings {
                checks.push(AwareCheck {
                    source: Source::Field {
                        member,
                        ty: Box::new(field.ty.clone()),
                    },
                    settings,
                    span,
                    item,
                });
            }
        }
    }
    duplicates(&checks, &ty_name, errors);
    checks
}

/// `#[health(...)]` with arguments, or a bare `#[health]` (a check with every default).
fn parse(attr: &Attribute, index: &mut usize, errors: &mut Errors) -> Args {
    if let Meta::Path(_) = &attr.meta {
        *index += 1;
        return Args::default();
    }
    Args::parse_helper(attr, index, errors)
}

/// Two checks of one struct with one name: an error on the second name.
fn duplicates(checks: &[AwareCheck], ty_name: &str, errors: &mut Errors) {
    let mut first: HashMap<&str, &AwareCheck> = HashMap::new();
    for check in checks {
        let name = check.settings.name.as_str();
        match first.get(name) {
            Some(earlier) => {
                let (position, span) = check.settings.name_span.unwrap_or((ITEM, check.span));
                errors.push(
                    position,
                    syn::Error::new(
                        span,
                        format!(
                            "duplicate check name `{name}` in `{ty_name}`: `{}` already has it; \
                             give each check its own name with `check = \"...\"`",
                            earlier.item
                        ),
                    ),
                );
            }
            None => {
                first.insert(name, check);
            }
        }
    }
}

fn expand_check(check: &AwareCheck) -> TokenStream {
    let settings = &check.settings;
    let name = &settings.name;
    let this = format_ident!("__health_this");
    let run = match &check.source {
        Source::Field { member, ty } => {
            // Spanned at the field's type: a type that is not an indicator is reported there,
            // with `HealthIndicator`'s message.
            quote_spanned! {ty.span()=>
                ::health_runtime::__private::run_indicator(&#this.#member).await
            }
        }
        Source::Method { ident } => {
            // Spanned at the method's name as written: a missing method, or one with the wrong
            // parameters, is reported on the string that names it.
            let call = quote_spanned!(ident.span()=> #this.#ident());
            let output = quote_spanned!(ident.span()=> __health_output);
            quote_spanned! {ident.span()=>
                {
                    let #output = ::health_runtime::__private::method_output(#call).await;
                    ::health_runtime::IntoCheckOutcome::into_check_outcome(#output)
                }
            }
        }
    };
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
    let item = &check.item;
    let location = quote_spanned! {check.span=>
        file: ::core::file!(), line: ::core::line!(), column: ::core::column!(),
    };
    quote! {
        ::health_runtime::__private::aware_check(
            self,
            ::health_runtime::__private::Settings {
                name: #name,
                timeout: #timeout,
                on_timeout: #on_timeout,
                on_error: #on_error,
                interval: #interval,
                groups: &[#(#groups),*],
                service: #service,
                failure_threshold: #failure_threshold,
            },
            ::health_runtime::__private::Site {
                #location
                item: ::core::concat!(::core::module_path!(), "::", #item),
            },
            |#this: ::std::sync::Arc<Self>| async move { #run },
        )
    }
}
