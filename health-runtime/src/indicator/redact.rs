//! Secrets out of messages: a URL as it may be shown in a check's message, an error or a log.

/// What stands in for a secret.
const HIDDEN: &str = "***";

/// `url` without its secrets, for messages and logs: the user info (`user:password@`) becomes
/// `***@`, each query value becomes `***` (keys stay: `?api_key=***`; an item without `=` is
/// taken for a value), and a fragment becomes `#***`. Scheme, host (IPv6 literals included),
/// port and path are kept, so the message still says what was asked.
///
/// Works on any text: with or without a scheme (`user:pw@db:5432`), with `@` in the path or the
/// query (only an `@` within the authority marks user info), percent-encoded or not (nothing is
/// decoded). Text with nothing to hide comes back unchanged.
pub(crate) fn url(url: &str) -> String {
    let authority_start = scheme_end(url).unwrap_or(0);
    // The user info is found before the query and the fragment are: a sloppy password may hold
    // `?` or `#` (`http://u:pa#ss@host/`), and must not be taken for a fragment and leak. The
    // authority runs to the first `/`; within it, the host follows the last `@`. When a `?` or
    // `#` comes before that `@` and what precedes the mark has a `:` (`host:80?to=a@b`, or a
    // password), everything up to the `@` is hidden: more than needed, never less.
    let authority_end = url[authority_start..]
        .find('/')
        .map_or(url.len(), |at| authority_start + at);
    let authority = &url[authority_start..authority_end];
    // Before a `?` or `#`, a bare name with no `:` cannot be user info with a password: there
    // the mark starts the query or fragment (`http://host?to=a@b`).
    let before_mark = authority.split(['?', '#']).next().unwrap_or_default();
    let user_info = match authority.rfind('@') {
        Some(at) if before_mark.contains('@') || before_mark.contains(':') => Some(at),
        Some(at) if before_mark.len() == authority.len() => Some(at),
        _ => None,
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    let rest = match user_info {
        Some(at) => {
            out.push_str(HIDDEN);
            &url[authority_start + at..]
        }
        None => &url[authority_start..],
    };
    let (head, fragment) = match rest.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (rest, None),
    };
    let (head, query) = match head.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (head, None),
    };
    out.push_str(head);
    if let Some(query) = query {
        out.push('?');
        for (index, item) in query.split('&').enumerate() {
            if index > 0 {
                out.push('&');
            }
            match item.split_once('=') {
                Some((key, "")) => {
                    out.push_str(key);
                    out.push('=');
                }
                Some((key, _)) => {
                    out.push_str(key);
                    out.push('=');
                    out.push_str(HIDDEN);
                }
                None if item.is_empty() => {}
                None => out.push_str(HIDDEN),
            }
        }
    }
    if let Some(fragment) = fragment {
        out.push('#');
        if !fragment.is_empty() {
            out.push_str(HIDDEN);
        }
    }
    out
}

/// Where the authority starts in `url` when it begins with `scheme://`. A malformed scheme
/// still counts (what follows `://` is hidden the same way); `://` after a `/`, `?`, `#` or `@`
/// is in the path, the query or the user info.
fn scheme_end(url: &str) -> Option<usize> {
    let (scheme, _) = url.split_once("://")?;
    (!scheme.contains(['/', '?', '#', '@'])).then_some(scheme.len() + 3)
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn a_password_holding_a_fragment_or_query_mark_is_hidden_whole() {
        assert_eq!(url("http://u:pa#ss@host/x"), "http://***@host/x");
        assert_eq!(url("http://u:p?w@host"), "http://***@host");
        assert_eq!(
            url("https://u:p?w@host:8443/h?k=v#f"),
            "https://***@host:8443/h?k=***#***"
        );
        assert_eq!(url("u:pa#ss@db:5432"), "***@db:5432");
        // A query holding `@` without a path.
        assert_eq!(url("http://host?to=secret@b"), "http://host?to=***");
        assert!(!url("http://host:80?to=secret@b").contains("secret"));
    }

    #[test]
    fn user_info_and_query_values_are_hidden() {
        assert_eq!(
            url("http://admin:hunter2@host/healthz?api_key=SECRET&verbose=1"),
            "http://***@host/healthz?api_key=***&verbose=***"
        );
        assert_eq!(url("https://token@host:8443"), "https://***@host:8443");
    }

    #[test]
    fn nothing_to_hide_is_unchanged() {
        for plain in [
            "http://127.0.0.1:8080/healthz",
            "https://payments.internal/",
            "db.internal:5432",
            "http://[::1]:50051",
            "unix:///tmp/plugin.sock",
            "",
            "http://host/path?",
            "http://host/path?key=",
        ] {
            assert_eq!(url(plain), plain);
        }
    }

    #[test]
    fn without_a_scheme() {
        assert_eq!(url("user:pw@db.internal:5432"), "***@db.internal:5432");
        assert_eq!(url("host/healthz?token=abc"), "host/healthz?token=***");
    }

    #[test]
    fn ipv6_hosts() {
        assert_eq!(
            url("http://user:pw@[::1]:8080/x?k=v"),
            "http://***@[::1]:8080/x?k=***"
        );
        assert_eq!(
            url("http://[fe80::1%25eth0]:80/"),
            "http://[fe80::1%25eth0]:80/"
        );
    }

    #[test]
    fn an_at_sign_outside_the_authority_is_no_user_info() {
        assert_eq!(url("http://host/users/a@b"), "http://host/users/a@b");
        assert_eq!(
            url("http://host?email=a@b.example"),
            "http://host?email=***"
        );
        assert_eq!(
            url("http://u:p@host/a@b?x=y@z"),
            "http://***@host/a@b?x=***"
        );
        // A raw `@` in the password: everything before the last one in the authority goes.
        assert_eq!(url("http://u:p@ss@host/"), "http://***@host/");
    }

    #[test]
    fn fragments_and_bare_query_items() {
        assert_eq!(
            url("http://host/cb#access_token=SECRET"),
            "http://host/cb#***"
        );
        assert_eq!(url("http://host/p#"), "http://host/p#");
        assert_eq!(url("http://host/?SECRET&&k=v"), "http://host/?***&&k=***");
        assert_eq!(url("http://host/?a=b=c"), "http://host/?a=***");
    }

    #[test]
    fn percent_encoding_is_left_as_it_is() {
        assert_eq!(
            url("http://ad%40min:hun%3Ater2@host/%3F?api%5Fkey=se%26cret"),
            "http://***@host/%3F?api%5Fkey=***"
        );
    }

    #[test]
    fn a_scheme_is_what_precedes_the_first_separator() {
        // `://` after a path character is no scheme: the authority is the leading part.
        assert_eq!(url("a/b://c@d"), "a/b://c@d");
        assert_eq!(url("1http://u@h"), "1http://***@h");
    }
}
