//! The derive's input as parsed: the struct, its fields and every `#[health(...)]` attribute's
//! arguments, not yet checked against each other (thiserror-impl `ast.rs`).

use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields, Meta};

use crate::args::Args;
use crate::errors::{Errors, ITEM};

/// A struct deriving `HealthAware`.
pub(super) struct Input<'a> {
    /// The struct's name without `r#`, as messages and `item`s write it.
    pub(super) ty_name: String,
    /// The `#[health(...)]` attributes on the struct: one method check each.
    pub(super) attrs: Vec<Attr<'a>>,
    pub(super) fields: Vec<Field<'a>>,
}

/// One `#[health(...)]` attribute and its arguments.
pub(super) struct Attr<'a> {
    pub(super) attr: &'a Attribute,
    pub(super) args: Args,
    /// The position of its last argument, to report errors about it in source order.
    pub(super) index: usize,
}

/// A field and its `#[health(...)]` attributes (a check has exactly one).
pub(super) struct Field<'a> {
    pub(super) field: &'a syn::Field,
    /// Its position among the fields, which names a tuple field.
    pub(super) position: usize,
    pub(super) attrs: Vec<Attr<'a>>,
}

impl<'a> Input<'a> {
    /// Parses every `#[health(...)]` of `input`, recording syntax errors and unknown or repeated
    /// arguments. `None` for an enum or a union, which cannot derive `HealthAware`.
    pub(super) fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
        let fields = struct_fields(input, errors)?;
        // Arguments are counted across every attribute, the struct's first, then the fields'.
        let mut index = 0;
        let attrs = parse_attrs(&input.attrs, &mut index, errors);
        let fields = fields
            .iter()
            .enumerate()
            .map(|(position, field)| Field {
                field,
                position,
                attrs: parse_attrs(&field.attrs, &mut index, errors),
            })
            .collect();
        Some(Input {
            ty_name: input.ident.unraw().to_string(),
            attrs,
            fields,
        })
    }
}

fn struct_fields<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<&'a Fields> {
    let (token, ident) = match &input.data {
        Data::Struct(data) => return Some(&data.fields),
        Data::Enum(data) => (
            quote::ToTokens::to_token_stream(&data.enum_token),
            &input.ident,
        ),
        Data::Union(data) => (
            quote::ToTokens::to_token_stream(&data.union_token),
            &input.ident,
        ),
    };
    errors.at(
        ITEM,
        quote::quote!(#token #ident),
        "`#[derive(HealthAware)]` can only be applied to a struct: its checks run against the \
         fields of one instance; derive it on the handler struct instead",
    );
    None
}

fn parse_attrs<'a>(
    attrs: &'a [Attribute],
    index: &mut usize,
    errors: &mut Errors,
) -> Vec<Attr<'a>> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("health"))
        .map(|attr| {
            let args = parse(attr, index, errors);
            Attr {
                attr,
                args,
                index: *index,
            }
        })
        .collect()
}

/// `#[health(...)]` with arguments, or a bare `#[health]` (a check with every default).
fn parse(attr: &Attribute, index: &mut usize, errors: &mut Errors) -> Args {
    if let Meta::Path(_) = &attr.meta {
        *index += 1;
        return Args::default();
    }
    Args::parse_helper(attr, index, errors)
}
