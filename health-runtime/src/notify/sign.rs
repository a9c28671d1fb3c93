//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, "Signature scheme"): the
//! base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`, sent as
//! `webhook-signature: v1,<signature>`.

use base64::Engine as _;
use ring::hmac;

/// The `webhook-signature` header value of `body` sent as `id` at `timestamp`.
pub(crate) fn signature(key: &hmac::Key, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks specification: secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`.
    #[test]
    fn the_reference_example() {
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
