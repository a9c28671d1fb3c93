//! Parsing the arguments of `#[health_check(...)]` and of the `#[health(...)]` helper attribute
//! of `#[derive(HealthAware)]` into their raw, unvalidated form. Both go through this one parser,
//! so both accept the same keys and refuse the same mistakes.

use proc_macro2::{Ident, Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, Expr, Token};

use crate::errors::Errors;
use crate::suggest;

/// An argument's key as written, and its value expression.
pub(crate) struct Arg {
    /// Where it stands among the arguments, to report errors in source order.
    pub(crate) index: usize,
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

/// Which attribute the arguments belong to: the keys differ a little between the two.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `#[health_check(name = "...", ...)]` on a function.
    Attribute,
    /// `#[health(check = "...", ...)]` on a field or a struct deriving `HealthAware`.
    Helper,
}

impl Flavor {
    /// The attribute's name, as messages quote it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Flavor::Attribute => "health_check",
            Flavor::Helper => "health",
        }
    }

    fn keys(self) -> &'static [Key] {
        match self {
            Flavor::Attribute => &Key::ATTRIBUTE,
            Flavor::Helper => &Key::HELPER,
        }
    }

    fn names(self) -> Vec<&'static str> {
        self.keys().iter().map(|key| key.as_str()).collect()
    }
}

/// Every argument, at most once each; values are checked by `model`.
#[derive(Default)]
pub(crate) struct Args {
    /// `name` in `#[health_check]`, `check` in `#[health]`.
    pub(crate) name: Option<Arg>,
    pub(crate) timeout: Option<Arg>,
    pub(crate) on_timeout: Option<Arg>,
    pub(crate) on_error: Option<Arg>,
    pub(crate) interval: Option<Arg>,
    pub(crate) groups: Option<Arg>,
    pub(crate) service: Option<Arg>,
    pub(crate) failure_threshold: Option<Arg>,
    /// `method = "..."` in `#[health]` on a struct: the method that runs the check.
    pub(crate) method: Option<Arg>,
    /// `skip` in `#[health]`: where it was written.
    pub(crate) skip: Option<Span>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Name,
    Check,
    Method,
    Skip,
    Timeout,
    OnTimeout,
    OnError,
    Interval,
    Groups,
    Service,
    FailureThreshold,
}

impl Key {
    const ATTRIBUTE: [Key; 8] = [
        Key::Name,
        Key::Timeout,
        Key::OnTimeout,
        Key::OnError,
        Key::Interval,
        Key::Groups,
        Key::Service,
        Key::FailureThreshold,
    ];

    const HELPER: [Key; 10] = [
        Key::Check,
        Key::Method,
        Key::Timeout,
        Key::OnTimeout,
        Key::OnError,
        Key::Interval,
        Key::Groups,
        Key::Service,
        Key::FailureThreshold,
        Key::Skip,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Key::Name => "name",
            Key::Check => "check",
            Key::Method => "method",
            Key::Skip => "skip",
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
            Key::Check => r#"check = "database""#,
            Key::Method => r#"method = "check_cache""#,
            Key::Skip => "skip",
            Key::Timeout => r#"timeout = "5s""#,
            Key::OnTimeout => r#"on_timeout = "warning""#,
            Key::OnError => r#"on_error = "warning""#,
            Key::Interval => r#"interval = "30s""#,
            Key::Groups => r#"groups = ["liveness", "readiness"]"#,
            Key::Service => r#"service = "storage""#,
            Key::FailureThreshold => "failure_threshold = 3",
        }
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
            args.parse_one(Flavor::Attribute, index, &meta, errors)
        });
        if let Err(error) = parser.parse2(tokens) {
            errors.push(index, error);
        }
        args
    }

    /// Parses one `#[health(...)]` helper attribute. `index` counts arguments across every
    /// attribute of the item, so that errors come out in source order.
    pub(crate) fn parse_helper(attr: &Attribute, index: &mut usize, errors: &mut Errors) -> Args {
        let mut args = Args::default();
        let result = attr.parse_nested_meta(|meta| {
            *index += 1;
            args.parse_one(Flavor::Helper, *index, &meta, errors)
        });
        if let Err(error) = result {
            errors.push(*index, error);
        }
        args
    }

    fn parse_one(
        &mut self,
        flavor: Flavor,
        index: usize,
        meta: &ParseNestedMeta<'_>,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        let key = Self::key(flavor, index, meta, errors);
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
        if key == Key::Skip {
            if let Some(value) = value {
                errors.at(
                    index,
                    &value,
                    "`skip` takes no value; write `#[health(skip)]`",
                );
            } else if self.skip.is_some() {
                errors.at(
                    index,
                    &ident,
                    "duplicate `health` argument `skip`; give it once",
                );
            } else {
                self.skip = Some(ident.span());
            }
            return Ok(());
        }
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
        store(flavor, slot, arg, errors);
        Ok(())
    }

    /// The argument a key names; an unknown key is recorded and yields `None`.
    fn key(
        flavor: Flavor,
        index: usize,
        meta: &ParseNestedMeta<'_>,
        errors: &mut Errors,
    ) -> Option<(Key, Ident)> {
        let attribute = flavor.as_str();
        let names = flavor.names();
        let Some(ident) = meta.path.get_ident() else {
            let expected = suggest::one_of(&names, false);
            errors.at(
                index,
                &meta.path,
                format!("expected a `{attribute}` argument, one of {expected}"),
            );
            return None;
        };
        let written = ident.to_string();
        match flavor.keys().iter().find(|key| key.as_str() == written) {
            Some(&key) => Some((key, ident.clone())),
            None => {
                let hint = match (flavor, written.as_str()) {
                    (Flavor::Helper, "name") => {
                        "; the check's name is `check` here: write `check = \"database\"`"
                            .to_owned()
                    }
                    _ => suggest::expected(&written, &names, false),
                };
                errors.at(
                    index,
                    ident,
                    format!("unknown `{attribute}` argument `{written}`{hint}"),
                );
                None
            }
        }
    }

    fn slot(&mut self, key: Key) -> &mut Option<Arg> {
        match key {
            Key::Name | Key::Check | Key::Skip => &mut self.name,
            Key::Method => &mut self.method,
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
fn store(flavor: Flavor, slot: &mut Option<Arg>, arg: Arg, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(
            arg.index,
            &arg.key,
            format!(
                "duplicate `{}` argument `{}`; give each argument once",
                flavor.as_str(),
                arg.key
            ),
        );
    } else {
        *slot = Some(arg);
    }
}
