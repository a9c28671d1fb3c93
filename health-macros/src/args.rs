//! Parsing the arguments of `#[health_check(...)]` into their raw, unvalidated form.

use proc_macro2::{Ident, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, Token};

use crate::errors::Errors;
use crate::suggest;

/// An argument's key as written, and its value expression.
pub(crate) struct Arg {
    /// Where it stands among the arguments, to report errors in source order.
    pub(crate) index: usize,
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

/// Every argument, at most once each; values are checked by `model`.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<Arg>,
    pub(crate) timeout: Option<Arg>,
    pub(crate) on_timeout: Option<Arg>,
    pub(crate) on_error: Option<Arg>,
    pub(crate) interval: Option<Arg>,
    pub(crate) groups: Option<Arg>,
    pub(crate) service: Option<Arg>,
    pub(crate) failure_threshold: Option<Arg>,
}

#[derive(Clone, Copy)]
enum Key {
    Name,
    Timeout,
    OnTimeout,
    OnError,
    Interval,
    Groups,
    Service,
    FailureThreshold,
}

impl Key {
    const ALL: [Key; 8] = [
        Key::Name,
        Key::Timeout,
        Key::OnTimeout,
        Key::OnError,
        Key::Interval,
        Key::Groups,
        Key::Service,
        Key::FailureThreshold,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Key::Name => "name",
            Key::Timeout => "timeout",
            Key::OnTimeout => "on_timeout",
            Key::OnError => "on_error",
            Key::Interval => "interval",
            Key::Groups => "groups",
            Key::Service => "service",
            Key::FailureThreshold => "failure_threshold",
        }
    }

    /// A complete, valid example of the argument, for "write ..." hints.
    fn example(self) -> &'static str {
        match self {
            Key::Name => r#"name = "database""#,
            Key::Timeout => r#"timeout = "5s""#,
            Key::OnTimeout => r#"on_timeout = "warning""#,
            Key::OnError => r#"on_error = "warning""#,
            Key::Interval => r#"interval = "30s""#,
            Key::Groups => r#"groups = ["liveness", "readiness"]"#,
            Key::Service => r#"service = "storage""#,
            Key::FailureThreshold => "failure_threshold = 3",
        }
    }

    fn names() -> [&'static str; 8] {
        Key::ALL.map(Key::as_str)
    }
}

impl Args {
    /// Parses the attribute's arguments. Mistakes are recorded and parsing goes on, so that all of
    /// them are reported; only a syntax error stops it.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
        let mut args = Args::default();
        let mut index = 0;
        let parser = syn::meta::parser(|meta| {
            index += 1;
            args.parse_one(index, &meta, errors)
        });
        if let Err(error) = parser.parse2(tokens) {
            errors.push(index, error);
        }
        args
    }

    fn parse_one(
        &mut self,
        index: usize,
        meta: &ParseNestedMeta<'_>,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        let key = Self::key(index, meta, errors);
        let value = if meta.input.peek(Token![=]) {
            meta.input.parse::<Token![=]>()?;
            Some(meta.input.parse::<Expr>()?)
        } else {
            if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                // `key(...)` or similar: step over it so the next argument is still checked.
                meta.input.parse::<proc_macro2::TokenTree>()?;
            }
            None
        };
        let Some((key, ident)) = key else {
            return Ok(());
        };
        let Some(value) = value else {
            errors.at(
                index,
                &ident,
                format!("`{ident}` needs a value; write `{}`", key.example()),
            );
            return Ok(());
        };
        let slot = self.slot(key);
        let arg = Arg {
            index,
            key: ident,
            value,
        };
        store(slot, arg, errors);
        Ok(())
    }

    /// The argument a key names; an unknown key is recorded and yields `None`.
    fn key(index: usize, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> Option<(Key, Ident)> {
        let Some(ident) = meta.path.get_ident() else {
            let expected = suggest::one_of(&Key::names(), false);
            errors.at(
                index,
                &meta.path,
                format!("expected a `health_check` argument, one of {expected}"),
            );
            return None;
        };
        let written = ident.to_string();
        match Key::ALL.into_iter().find(|key| key.as_str() == written) {
            Some(key) => Some((key, ident.clone())),
            None => {
                let expected = suggest::expected(&written, &Key::names(), false);
                errors.at(
                    index,
                    ident,
                    format!("unknown `health_check` argument `{written}`{expected}"),
                );
                None
            }
        }
    }

    fn slot(&mut self, key: Key) -> &mut Option<Arg> {
        match key {
            Key::Name => &mut self.name,
            Key::Timeout => &mut self.timeout,
            Key::OnTimeout => &mut self.on_timeout,
            Key::OnError => &mut self.on_error,
            Key::Interval => &mut self.interval,
            Key::Groups => &mut self.groups,
            Key::Service => &mut self.service,
            Key::FailureThreshold => &mut self.failure_threshold,
        }
    }
}

/// The one place that refuses an argument given twice.
fn store(slot: &mut Option<Arg>, arg: Arg, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(
            arg.index,
            &arg.key,
            format!(
                "duplicate `health_check` argument `{}`; give each argument once",
                arg.key
            ),
        );
    } else {
        *slot = Some(arg);
    }
}
