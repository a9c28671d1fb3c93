//! Colour for the tables: ANSI escapes only on a terminal (or when asked), never when `NO_COLOR`
//! is set under `auto`.

use std::io::IsTerminal as _;

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Paints words, or leaves them plain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    enabled: bool,
}

impl Style {
    /// The style for stdout under `choice`.
    pub(crate) fn new(choice: ColorChoice) -> Self {
        let enabled = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
            }
        };
        Style { enabled }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Green: healthy, serving.
    pub(crate) fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Yellow: warning.
    pub(crate) fn warn(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Bold red: critical, not serving.
    pub(crate) fn bad(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// Magenta: no result yet, or an unknown name.
    pub(crate) fn unknown(&self, text: &str) -> String {
        self.paint("35", text)
    }

    /// Bold: column headers.
    pub(crate) fn header(&self, text: &str) -> String {
        self.paint("1", text)
    }
}
