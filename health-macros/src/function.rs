//! The shape of the annotated function: what the generated code needs to call it.

use proc_macro2::{Ident, Span};
use quote::quote;
use syn::{Item, ItemFn, ReturnType, Safety, Type};

use crate::errors::{Errors, ITEM};

/// Where checks that need state go instead, for the messages that refuse parameters and methods.
const STATEFUL_HINT: &str = "for a check that needs state, use `#[derive(HealthAware)]` on the \
                             handler, or build it at runtime with `health_runtime::Check::new`";

/// A function that can be a check: no parameters, no generics, safe, with a return type.
pub(crate) struct Function {
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) output: Box<Type>,
}

impl Function {
    /// Checks the item's shape; `None` when it cannot be a check (the errors say why).
    pub(crate) fn from_item(item: &Item, errors: &mut Errors) -> Option<Function> {
        let Item::Fn(function) = item else {
            not_a_function(item, errors);
            return None;
        };
        Function::from_fn(function, errors)
    }

    fn from_fn(function: &ItemFn, errors: &mut Errors) -> Option<Function> {
        let sig = &function.sig;
        let mut valid = true;
        if !sig.generics.params.is_empty() {
            errors.at(
                ITEM,
                &sig.generics,
                "health check functions cannot be generic; the runtime calls them without \
                 type arguments, so remove the generic parameters",
            );
            valid = false;
        }
        if let Some(receiver) = sig.receiver() {
            errors.at(
                ITEM,
                receiver,
                format!(
                    "`#[health_check]` cannot be applied to a method; make it a free function \
                     without `self`, or {STATEFUL_HINT}"
                ),
            );
            valid = false;
        } else if !sig.inputs.is_empty() || sig.variadic.is_some() {
            let inputs = &sig.inputs;
            let variadic = &sig.variadic;
            errors.at(
                ITEM,
                quote!(#inputs #variadic),
                format!("health check functions take no parameters; {STATEFUL_HINT}"),
            );
            valid = false;
        }
        if let Safety::Unsafe(unsafe_token) = &sig.safety {
            errors.at(
                ITEM,
                unsafe_token,
                "health check functions cannot be `unsafe fn`; the runtime calls them from safe \
                 code, so keep the function safe and use an `unsafe` block inside it",
            );
            valid = false;
        }
        let output = match &sig.output {
            ReturnType::Type(_, ty) => Some(ty.clone()),
            ReturnType::Default => {
                let fn_token = &sig.fn_token;
                let ident = &sig.ident;
                errors.at(
                    ITEM,
                    quote!(#fn_token #ident),
                    "a health check must return its result; add a return type such as \
                     `-> Result<(), E>`, `-> bool` or `-> health_runtime::Status`",
                );
                None
            }
        };
        let output = output.filter(|_| valid)?;
        Some(Function {
            ident: sig.ident.clone(),
            is_async: sig.asyncness.is_some(),
            output,
        })
    }

    /// Where line and column of the registration point: the function's name.
    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }
}

fn not_a_function(item: &Item, errors: &mut Errors) {
    // Point at the item's keyword and name rather than at its whole body.
    let (head, hint) = match item {
        Item::Struct(item) => {
            let (token, ident) = (&item.struct_token, &item.ident);
            (
                quote!(#token #ident),
                "; for checks that need the struct's state, use `#[derive(HealthAware)]`",
            )
        }
        Item::Enum(item) => {
            let (token, ident) = (&item.enum_token, &item.ident);
            (quote!(#token #ident), "")
        }
        Item::Union(item) => {
            let (token, ident) = (&item.union_token, &item.ident);
            (quote!(#token #ident), "")
        }
        Item::Trait(item) => {
            let (token, ident) = (&item.trait_token, &item.ident);
            (quote!(#token #ident), "")
        }
        Item::Mod(item) => {
            let (token, ident) = (&item.mod_token, &item.ident);
            (quote!(#token #ident), "")
        }
        Item::Const(item) => {
            let (token, ident) = (&item.const_token, &item.ident);
            (quote!(#token #ident), "")
        }
        Item::Static(item) => {
            let (token, ident) = (&item.static_token, &item.ident);
            (quote!(#token #ident), "")
        }
        Item::Impl(item) => {
            let token = &item.impl_token;
            (quote!(#token), "")
        }
        other => (quote!(#other), ""),
    };
    errors.at(
        ITEM,
        head,
        format!("`#[health_check]` can only be applied to an `async fn` or a `fn`{hint}"),
    );
}
