//! S3's XML error body (`<Error><Code>SignatureDoesNotMatch</Code>...`), read without an XML
//! library: the body is flat, and only a few elements matter. `CanonicalRequest` and
//! `StringToSign` are what S3 computed from the request it *received*.

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

/// XML's five entities and numeric character references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of the first `<name>...</name>` element.
fn element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&close)?;
    Some(unescape(&body[start..start + len]))
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
            super::unescape("a & b &bogus; &#xFFFFFFFF; &"),
            "a & b &bogus; &#xFFFFFFFF; &"
        );
    }
}
