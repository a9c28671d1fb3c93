//! The checks of a parsed input: each attribute checked for where it stands, its settings
//! validated by the code `#[health_check]` uses, and names checked against each other
//! (thiserror-impl `valid.rs`).

use std::collections::HashMap;

use proc_macro2::{Ident, Span};
use quote::quote_spanned;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Member, Type};

use super::ast::{Attr, Field, Input};
use crate::errors::{Errors, ITEM};
use crate::model::{Settings, string_value};
use crate::name::derived_name_error;

/// What a check runs: an indicator field, or a method.
pub(super) enum Source {
    Field { member: Member, ty: Box<Type> },
    Method { ident: Ident },
}

/// One validated check of the struct.
pub(super) struct AwareCheck {
    pub(super) source: Source,
    pub(super) settings: Settings,
    /// Where the check's location points (the field or the method name).
    pub(super) span: Span,
    /// `Struct.field` or `Struct::method`, for the location's `item`.
    pub(super) item: String,
}

/// Every check of `input` whose attribute is valid; every mistake is recorded.
pub(super) fn checks(input: &Input<'_>, errors: &mut Errors) -> Vec<AwareCheck> {
    let ty_name = &input.ty_name;
    let mut checks: Vec<AwareCheck> = input
        .attrs
        .iter()
        .filter_map(|attr| method_check(ty_name, attr, errors))
        .collect();
    for field in &input.fields {
        checks.extend(field_check(ty_name, field, errors));
    }
    duplicates(&checks, ty_name, errors);
    checks
}

/// A `#[health(method = "...")]` on the struct.
fn method_check(ty_name: &str, attr: &Attr<'_>, errors: &mut Errors) -> Option<AwareCheck> {
    let args = &attr.args;
    if let Some(skip) = args.skip {
        errors.at(
            attr.index,
            quote_spanned!(skip=> skip),
            "`skip` belongs on a field; on the struct, `#[health(...)]` names a method with \
             `method = \"...\"`",
        );
        return None;
    }
    let Some(method_arg) = &args.method else {
        errors.at(
            attr.index,
            attr.attr,
            "a `#[health(...)]` on the struct names the method that runs the check; add \
             `method = \"check_cache\"`, or put the attribute on an indicator field",
        );
        return None;
    };
    let expected = "expected the name of a method as a string, such as `\"check_cache\"`";
    let literal = string_value(method_arg, expected, errors)?;
    let Ok(mut ident) = syn::parse_str::<Ident>(&literal.value()) else {
        errors.at(
            method_arg.index,
            literal,
            format!(
                "`{}` is not a method name; write the name of an `async fn(&self)` of `{ty_name}`",
                literal.value()
            ),
        );
        return None;
    };
    // Spanned at the string that names it: rustc's errors about the method are reported there.
    // A raw identifier (`r#type`) stays raw in the call; names and messages go without `r#`.
    ident.set_span(literal.span());
    let default = ident.unraw().to_string();
    let settings = Settings::new(
        args,
        |errors| match derived_name_error(&default, "method", "check") {
            Some(message) => {
                errors.at(method_arg.index, literal, message);
                None
            }
            None => Some(default.clone()),
        },
        errors,
    )?;
    Some(AwareCheck {
        item: format!("{ty_name}::{default}"),
        span: literal.span(),
        source: Source::Method { ident },
        settings,
    })
}

/// The check of an indicator field, if it has a `#[health(...)]` that is not `skip`.
fn field_check(ty_name: &str, field: &Field<'_>, errors: &mut Errors) -> Option<AwareCheck> {
    let (first, rest) = field.attrs.split_first()?;
    for extra in rest {
        errors.at(
            extra.index,
            extra.attr,
            "a field is one check: give it one `#[health(...)]` attribute; for more checks name \
             methods on the struct",
        );
    }
    if misplaced(first, errors) || first.args.skip.is_some() {
        return None;
    }
    let syn_field = field.field;
    let (member, item) = match &syn_field.ident {
        Some(ident) => (
            Member::Named(ident.clone()),
            format!("{ty_name}.{}", ident.unraw()),
        ),
        None => (
            Member::Unnamed(syn::Index {
                index: u32::try_from(field.position).unwrap_or(u32::MAX),
                span: syn_field.ty.span(),
            }),
            format!("{ty_name}.{}", field.position),
        ),
    };
    let settings = Settings::new(
        &first.args,
        |errors| default_field_name(syn_field, first, errors),
        errors,
    )?;
    Some(AwareCheck {
        source: Source::Field {
            member,
            ty: Box::new(syn_field.ty.clone()),
        },
        settings,
        span: syn_field
            .ident
            .as_ref()
            .map_or_else(|| syn_field.ty.span(), Ident::span),
        item,
    })
}

/// Records the arguments that have no place on a field: `method`, or settings beside `skip`.
fn misplaced(attr: &Attr<'_>, errors: &mut Errors) -> bool {
    let args = &attr.args;
    if let Some(method) = &args.method {
        errors.at(
            method.index,
            &method.key,
            "`method` belongs on the struct's `#[health(...)]`; on a field, the field's type is \
             the check (it implements `HealthIndicator`)",
        );
        return true;
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
    }
    false
}

/// The field's name as its check's name; a tuple field has none.
fn default_field_name(field: &syn::Field, attr: &Attr<'_>, errors: &mut Errors) -> Option<String> {
    let Some(ident) = &field.ident else {
        errors.at(
            attr.index,
            attr.attr,
            "a tuple field has no name to give its check; add `check = \"database\"`",
        );
        return None;
    };
    let name = ident.unraw().to_string();
    if let Some(message) = derived_name_error(&name, "field", "check") {
        let tokens = quote_spanned!(ident.span()=> #name);
        errors.at(attr.index, tokens, message);
        return None;
    }
    Some(name)
}

/// Two checks of one struct with one name: an error on the second name.
fn duplicates(checks: &[AwareCheck], ty_name: &str, errors: &mut Errors) {
    let mut first: HashMap<&str, &AwareCheck> = HashMap::new();
    for check in checks {
        let name = check.settings.check.name.as_str();
        let Some(earlier) = first.get(name) else {
            first.insert(name, check);
            continue;
        };
        let (position, span) = check.settings.name_span.unwrap_or((ITEM, check.span));
        let message = format!(
            "duplicate check name `{name}` in `{ty_name}`: `{}` already has it; give each check \
             its own name with `check = \"...\"`",
            earlier.item
        );
        errors.push(position, syn::Error::new(span, message));
    }
}
