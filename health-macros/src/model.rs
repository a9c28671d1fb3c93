//! The validated check: every argument checked and defaulted. Codegen reads only this.

use std::collections::HashSet;
use std::fmt::Display;
use std::time::Duration;

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Expr, Lit, LitStr};

use health_rules::{CheckSettings, Group, Status, duration};

use crate::args::{Arg, Args};
use crate::errors::{Errors, ITEM};
use crate::function::Function;
use crate::name::{derived_name_error, name_error};
use crate::suggest;

/// A `#[health_check]` function ready to expand.
pub(crate) struct Check {
    pub(crate) function: Function,
    pub(crate) settings: Settings,
}

/// The validated arguments of one check, shared by `#[health_check]` and `#[health(...)]`.
pub(crate) struct Settings {
    /// The settings themselves: the list of fields the runtime shares.
    pub(crate) check: CheckSettings<String, Vec<Group>>,
    /// Where the name was written, when it was: duplicate names are reported there.
    pub(crate) name_span: Option<(usize, proc_macro2::Span)>,
}

impl Check {
    /// Validates every argument, recording each mistake. `None` when anything at all was wrong,
    /// including mistakes recorded before (syntax, function shape): no code is generated then.
    pub(crate) fn new(
        args: &Args,
        function: Option<Function>,
        errors: &mut Errors,
    ) -> Option<Check> {
        let settings = Settings::new(
            args,
            |errors| {
                function
                    .as_ref()
                    .and_then(|function| default_name(function, errors))
            },
            errors,
        );
        // A value that was given but refused is `None` here too; the recorded error stops us.
        if !errors.is_empty() {
            return None;
        }
        Some(Check {
            function: function?,
            settings: settings?,
        })
    }
}

impl Settings {
    /// Validates every argument, recording each mistake; `default_name` gives the name when the
    /// arguments have none. `None` when any of these arguments was refused.
    pub(crate) fn new(
        args: &Args,
        default_name: impl FnOnce(&mut Errors) -> Option<String>,
        errors: &mut Errors,
    ) -> Option<Settings> {
        let before = errors.len();
        let name = match &args.name {
            Some(arg) => checked_name(arg, "check name", errors),
            None => default_name(errors),
        };
        let timeout = args.timeout.as_ref().and_then(|arg| duration(arg, errors));
        let on_timeout = args
            .on_timeout
            .as_ref()
            .and_then(|arg| status(arg, &Status::ON_TIMEOUT, errors));
        let on_error = args
            .on_error
            .as_ref()
            .and_then(|arg| status(arg, &Status::ON_ERROR, errors));
        let interval = args.interval.as_ref().and_then(|arg| duration(arg, errors));
        let groups = args.groups.as_ref().and_then(|arg| groups(arg, errors));
        let service = args
            .service
            .as_ref()
            .and_then(|arg| checked_name(arg, "service name", errors));
        let failure_threshold = args
            .failure_threshold
            .as_ref()
            .and_then(|arg| failure_threshold(arg, errors));
        if errors.len() > before {
            return None;
        }
        let name_span = args
            .name
            .as_ref()
            .map(|arg| (arg.index, syn::spanned::Spanned::span(&arg.value)));
        let mut check = CheckSettings::new(name?);
        check.timeout = timeout;
        check.interval = interval;
        check.service = service;
        check.on_timeout = on_timeout.unwrap_or(check.on_timeout);
        check.on_error = on_error.unwrap_or(check.on_error);
        check.groups = groups.unwrap_or(check.groups);
        check.failure_threshold = failure_threshold.unwrap_or(check.failure_threshold);
        Some(Settings { check, name_span })
    }
}

/// Records an error about `arg`, pointing at `tokens`, and yields `None`.
fn refuse<T>(
    errors: &mut Errors,
    arg: &Arg,
    tokens: impl ToTokens,
    message: impl Display,
) -> Option<T> {
    errors.at(arg.index, tokens, message);
    None
}

/// The value expression, seen through the invisible group a `macro_rules!` caller may add.
fn value(arg: &Arg) -> &Expr {
    let mut expr = &arg.value;
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

fn string_literal(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(string) => Some(string),
            _ => None,
        },
        _ => None,
    }
}

/// The argument's string literal; anything else is refused with `expected`, or, for a bare word
/// such as `on_error = warning`, with the quoted form to write instead.
pub(crate) fn string_value<'a>(
    arg: &'a Arg,
    expected: &str,
    errors: &mut Errors,
) -> Option<&'a LitStr> {
    let value = value(arg);
    if let Some(literal) = string_literal(value) {
        return Some(literal);
    }
    let message = match value {
        Expr::Path(path) if path.path.get_ident().is_some() => {
            let word = path.path.get_ident().map(IdentExt::unraw);
            let key = &arg.key;
            format!(
                "expected a string; write `{key} = \"{}\"`",
                word.unwrap_or_else(|| key.clone())
            )
        }
        _ => expected.to_owned(),
    };
    refuse(errors, arg, &arg.value, message)
}

fn checked_name(arg: &Arg, what: &str, errors: &mut Errors) -> Option<String> {
    let expected = format!("expected a {what} string such as `\"database\"`");
    let literal = string_value(arg, &expected, errors)?;
    let name = literal.value();
    match name_error(what, &name) {
        Some(message) => refuse(errors, arg, literal, message),
        None => Some(name),
    }
}

fn default_name(function: &Function, errors: &mut Errors) -> Option<String> {
    let name = function.ident.unraw().to_string();
    if let Some(message) = derived_name_error(&name, "function", "name") {
        errors.at(ITEM, &function.ident, message);
        return None;
    }
    Some(name)
}

fn duration(arg: &Arg, errors: &mut Errors) -> Option<Duration> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(int), ..
    }) = value(arg)
    {
        let n = int.base10_digits();
        let message =
            format!("expected a duration string with a unit, such as `\"{n}s\"` or `\"{n}ms\"`");
        return refuse(errors, arg, int, message);
    }
    let expected = "expected a duration string such as `\"5s\"`, `\"250ms\"` or `\"1m30s\"`";
    let literal = string_value(arg, expected, errors)?;
    match duration::parse(&literal.value()) {
        Ok(duration) if duration.is_zero() => {
            let key = &arg.key;
            let message =
                format!("`{key}` must be greater than zero; omit it to use the runtime default");
            refuse(errors, arg, literal, message)
        }
        Ok(duration) => Some(duration),
        Err(error) => refuse(errors, arg, literal, error),
    }
}

fn status(arg: &Arg, allowed: &[Status], errors: &mut Errors) -> Option<Status> {
    let key = &arg.key;
    let names: Vec<&str> = allowed.iter().map(|status| status.as_str()).collect();
    let expected = format!(
        "expected a status string, one of {}",
        suggest::one_of(&names, true)
    );
    let literal = string_value(arg, &expected, errors)?;
    let written = literal.value();
    if let Some(&status) = allowed.iter().find(|status| status.as_str() == written) {
        return Some(status);
    }
    let message = if written == Status::Healthy.as_str() {
        // Only `on_error = "healthy"` gets here: a failure must never read as a success.
        format!(
            "`{key}` cannot be `\"{written}\"`: a check that fails or panics must not look \
             healthy; use `\"warning\"` to keep serving or `\"critical\"` to stop"
        )
    } else {
        let expected = suggest::expected(&written, &names, true);
        format!("unknown `{key}` status `\"{written}\"`{expected}")
    };
    refuse(errors, arg, literal, message)
}

fn groups(arg: &Arg, errors: &mut Errors) -> Option<Vec<Group>> {
    let names = Group::ALL.map(Group::as_str);
    let list = suggest::one_of(&names, true);
    let array = match value(arg) {
        Expr::Array(array) => array,
        other => {
            let message = match string_literal(other) {
                Some(single) => format!(
                    "expected a list of groups; write `groups = [\"{}\"]`",
                    single.value()
                ),
                None => format!(
                    "expected a list of groups such as `[\"liveness\", \"readiness\"]`, each one of {list}"
                ),
            };
            return refuse(errors, arg, &arg.value, message);
        }
    };
    let mut groups = Vec::new();
    let mut seen = HashSet::new();
    for element in &array.elems {
        let Some(literal) = string_literal(element) else {
            let message = format!("expected a group name string, one of {list}");
            errors.at(arg.index, element, message);
            continue;
        };
        let written = literal.value();
        let Some(group) = Group::ALL
            .into_iter()
            .find(|group| group.as_str() == written)
        else {
            let expected = suggest::expected(&written, &names, true);
            errors.at(
                arg.index,
                literal,
                format!("unknown group `\"{written}\"`{expected}"),
            );
            continue;
        };
        if seen.insert(group) {
            groups.push(group);
        } else {
            let message = format!("duplicate group `\"{written}\"`; list each group once");
            errors.at(arg.index, literal, message);
        }
    }
    (groups.len() == array.elems.len()).then_some(groups)
}

fn failure_threshold(arg: &Arg, errors: &mut Errors) -> Option<u32> {
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(int), ..
    }) = value(arg)
    else {
        let message = "expected a whole number of consecutive failures, such as `3`";
        return refuse(errors, arg, &arg.value, message);
    };
    match int.base10_digits().parse::<u32>() {
        Ok(0) => refuse(
            errors,
            arg,
            int,
            "`failure_threshold` must be at least 1; 1 reports the first failure at once",
        ),
        Ok(threshold) => Some(threshold),
        Err(_) => {
            let message = format!(
                "`failure_threshold` is too large; the largest accepted is {}",
                u32::MAX
            );
            refuse(errors, arg, int, message)
        }
    }
}
