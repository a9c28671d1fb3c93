//! Integration tests; see the `[[test]]` targets.
