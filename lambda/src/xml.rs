//! S3's XML answers, read without an XML library: they are flat and small, only a few elements
//! matter, and the function's size is a target (`scripts/bench-signer`). Shared by the signer's
//! own S3 calls (`s3.rs`) and `url explain` (which reads S3's error bodies).

/// The text inside the first `<name>...</name>` of `xml` (entities not decoded).
pub fn element<'x>(xml: &'x str, name: &str) -> Option<&'x str> {
    elements(xml, name).next()
}

/// The text inside each `<name>...</name>` (or `<name attr=...>`) of `xml`, in order.
pub fn elements<'x>(xml: &'x str, name: &str) -> impl Iterator<Item = &'x str> + 'x {
    let mut rest = xml;
    let name = name.to_string();
    let close = format!("</{name}>");
    std::iter::from_fn(move || loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        let Some(after) = rest.strip_prefix(name.as_str()) else {
            continue;
        };
        let open_end = match after.as_bytes().first() {
            Some(b'>') => 1,
            Some(b' ') => after.find('>')? + 1,
            Some(b'/') if after.starts_with("/>") => {
                rest = &after[2..];
                return Some("");
            }
            _ => continue,
        };
        let inner = &after[open_end..];
        let end = inner.find(&close)?;
        rest = &inner[end + close.len()..];
        return Some(&inner[..end]);
    })
}

/// XML text with its entities decoded (`&quot;`, `&amp;`, `&lt;`, `&gt;`, `&apos;`, `&#N;`,
/// `&#xN;`); anything else is kept as written.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "quot" => Some('"'),
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
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

/// Appends `text` with `&`, `<`, `>` and `"` escaped for XML.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_read_with_attributes_self_closing_tags_and_entities() {
        let xml = r#"<?xml version="1.0"?><ListPartsResult xmlns="x"><IsTruncated>true</IsTruncated>
            <NextPartNumberMarker>2</NextPartNumberMarker>
            <Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&quot;</ETag><Size>5</Size></Part>
            <Part><PartNumber>2</PartNumber><ETag/><Size>6</Size></Part>
            <PartNumberMarker>0</PartNumberMarker></ListPartsResult>"#;
        let parts: Vec<&str> = elements(xml, "Part").collect();
        assert_eq!(
            parts.len(),
            2,
            "<PartNumber> and <PartNumberMarker> are not <Part>"
        );
        assert_eq!(element(parts[0], "ETag").map(decode).unwrap(), "\"a&b\"");
        assert_eq!(element(parts[1], "ETag"), Some(""));
        assert_eq!(element(xml, "IsTruncated"), Some("true"));
        assert_eq!(element(xml, "Missing"), None);
        assert_eq!(decode("&#34;x&#x27;&bogus; & y"), "\"x'&bogus; & y");
    }

    #[test]
    fn escaping_and_decoding_are_inverse() {
        for s in ["\"0123abc\"", "a<b>&\"c\"", "plain"] {
            let mut out = String::new();
            escape_into(&mut out, s);
            assert_eq!(decode(&out), s);
        }
    }
}
