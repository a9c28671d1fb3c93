//! "Did you mean" suggestions and the lists of valid values that error messages end with.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // rustc's threshold: a third of the length, at least one edit.
    let limit = word.chars().count().max(3) / 3;
    let typo = candidates
        .iter()
        .map(|&candidate| (edit_distance(word, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate);
    // An abbreviation (`ready`, `live`, `start`) is too far for the typo rule but just as clear:
    // suggest the one candidate sharing a prefix of at least four characters.
    typo.or_else(|| {
        let mut prefixed = candidates
            .iter()
            .filter(|candidate| common_prefix(word, candidate) >= 4);
        match (prefixed.next(), prefixed.next()) {
            (Some(&only), None) => Some(only),
            _ => None,
        }
    })
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(a, b)| a == b).count()
}

/// The tail of an "unknown ..." message: "; did you mean `x`? expected one of `a`, `b` or `c`",
/// without the question when no candidate is close.
pub(crate) fn expected(word: &str, candidates: &[&str], quoted: bool) -> String {
    let list = one_of(candidates, quoted);
    match closest(word, candidates) {
        Some(candidate) => format!(
            "; did you mean {}? expected one of {list}",
            code(candidate, quoted)
        ),
        None => format!("; expected one of {list}"),
    }
}

/// "`a`, `b` or `c`", each item in backticks, string values also in quotes.
pub(crate) fn one_of(items: &[&str], quoted: bool) -> String {
    let mut list = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            list.push_str(if index + 1 == items.len() {
                " or "
            } else {
                ", "
            });
        }
        list.push_str(&code(item, quoted));
    }
    list
}

fn code(item: &str, quoted: bool) -> String {
    if quoted {
        format!("`\"{item}\"`")
    } else {
        format!("`{item}`")
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGS: [&str; 4] = ["name", "timeout", "on_timeout", "on_error"];

    #[test]
    fn distance_counts_single_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ready", "readiness"), 5);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        assert_eq!(closest("timout", &ARGS), Some("timeout"));
        assert_eq!(closest("on_timout", &ARGS), Some("on_timeout"));
        assert_eq!(closest("onerror", &ARGS), Some("on_error"));
        assert_eq!(closest("nam", &ARGS), Some("name"));
        assert_eq!(closest("retries", &ARGS), None);
        assert_eq!(closest("x", &ARGS), None);
        assert_eq!(closest("on", &ARGS), None);
        assert_eq!(closest("on_t", &ARGS), Some("on_timeout"));
        assert_eq!(closest("on_", &ARGS), None, "too short to tell");
        let groups = ["liveness", "readiness", "startup"];
        assert_eq!(closest("ready", &groups), Some("readiness"));
        assert_eq!(closest("live", &groups), Some("liveness"));
        assert_eq!(closest("Readiness", &groups), Some("readiness"));
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(one_of(&["a"], false), "`a`");
        assert_eq!(one_of(&["a", "b"], false), "`a` or `b`");
        assert_eq!(
            one_of(&["a", "b", "c"], true),
            "`\"a\"`, `\"b\"` or `\"c\"`"
        );
        let statuses = ["warning", "critical"];
        assert_eq!(
            expected("warn", &statuses, true),
            "; did you mean `\"warning\"`? expected one of `\"warning\"` or `\"critical\"`"
        );
        assert_eq!(
            expected("zzz", &statuses, false),
            "; expected one of `warning` or `critical`"
        );
    }
}
