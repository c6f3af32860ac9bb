//! S3's XML error body (`<Error><Code>SignatureDoesNotMatch</Code>...`), read by the signer's
//! small XML reader (`presign_signer::xml`): the body is flat, and only a few elements matter.
//! `CanonicalRequest` and `StringToSign` are what S3 computed from the request it *received*.

/// The parts of an S3 error body `url explain` uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Error {
    pub code: String,
    pub message: String,
    pub canonical_request: Option<String>,
    pub string_to_sign: Option<String>,
    pub signature_provided: Option<String>,
    pub headers_not_signed: Option<String>,
    pub aws_access_key_id: Option<String>,
}

impl S3Error {
    /// The code given to an answer without a body.
    pub const EMPTY: &'static str = "(empty body)";

    /// An answer without a body.
    pub fn empty() -> S3Error {
        S3Error {
            code: S3Error::EMPTY.into(),
            ..S3Error::default()
        }
    }
}

/// The text of the first `<name>...</name>` element, its entities decoded.
fn element(body: &str, name: &str) -> Option<String> {
    presign_signer::xml::element(body, name).map(presign_signer::xml::decode)
}

/// Reads an S3 error body; `None` when it is not one (no `<Error>` with a `<Code>`).
pub fn parse(body: &str) -> Option<S3Error> {
    if !body.contains("<Error>") {
        return None;
    }
    Some(S3Error {
        code: element(body, "Code")?,
        message: element(body, "Message").unwrap_or_default(),
        canonical_request: element(body, "CanonicalRequest"),
        string_to_sign: element(body, "StringToSign"),
        signature_provided: element(body, "SignatureProvided"),
        headers_not_signed: element(body, "HeadersNotSigned"),
        aws_access_key_id: element(body, "AWSAccessKeyId"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_signature_error() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message><AWSAccessKeyId>AKIA</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20261128T143039Z</StringToSign><CanonicalRequest>PUT\n/a%20b\ncontent-type:image/png&amp;x\n&#x41;&#66;&lt;</CanonicalRequest></Error>";
        let e = super::parse(body).unwrap();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert_eq!(
            e.canonical_request.as_deref(),
            Some("PUT\n/a%20b\ncontent-type:image/png&x\nAB<")
        );
        assert_eq!(e.aws_access_key_id.as_deref(), Some("AKIA"));
        assert_eq!(super::parse("not xml"), None);
        assert_eq!(super::parse("<Error><Message>m</Message></Error>"), None);
        assert_eq!(
            presign_signer::xml::decode("a & b &bogus; &#xFFFFFFFF; &"),
            "a & b &bogus; &#xFFFFFFFF; &"
        );
    }
}
