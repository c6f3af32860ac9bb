//! Our pre-signer against the AWS SDK's own SigV4 implementation: the same request must get
//! the same signature.

use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use presign_signer::sign::{PresignRequest, SigningTime};
use presign_signer::{Credentials, Presigner};

fn query_param(url: &str, name: &str) -> String {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} missing in {url}"))
        .to_string()
}

fn reference_signature(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    token: Option<&str>,
    unix: u64,
    expires: u64,
) -> String {
    let identity = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_string),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(unix))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (_, signature) = sign(signable, &params).unwrap().into_parts();
    signature
}

#[test]
fn our_signatures_match_the_aws_sdk() {
    for (key, token, headers, method, unix) in [
        (
            "uploads/cat.jpg",
            None,
            vec![("content-type", "image/jpeg")],
            "PUT",
            1_795_876_239u64,
        ),
        (
            "uploads/a b+c/ünï €.png",
            Some("FQoGZXIvYXdzE/token+="),
            vec![("content-type", "image/png")],
            "PUT",
            1_700_000_000,
        ),
        (
            "uploads/x.mp4",
            None,
            vec![("content-length", "1234"), ("content-type", "video/mp4")],
            "PUT",
            1_800_000_000,
        ),
        (
            "uploads/get-me.jpg",
            Some("t"),
            vec![],
            "GET",
            1_795_876_239,
        ),
    ] {
        let ours = Presigner::new(
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: token.map(str::to_string),
            },
            "eu-west-1",
            "my-bucket",
            None,
        )
        .presign(&PresignRequest {
            method,
            key,
            expires_seconds: 300,
            headers: &headers,
            query: &[],
            time: SigningTime { unix },
        });
        let bare = ours.split_once('?').unwrap().0;
        let mut all_headers = vec![("host", "my-bucket.s3.eu-west-1.amazonaws.com")];
        all_headers.extend(headers.iter().copied());
        let reference = reference_signature(bare, method, &all_headers, token, unix, 300);
        assert_eq!(query_param(&ours, "X-Amz-Signature"), reference, "{key}");
    }
}

#[test]
fn the_signing_key_cache_gives_the_same_url_on_repeat_and_a_new_one_on_a_new_day() {
    let presigner = || {
        Presigner::new(
            Credentials {
                access_key_id: "A".into(),
                secret_access_key: "S".into(),
                session_token: None,
            },
            "us-east-1",
            "b",
            Some("http://127.0.0.1:9000"),
        )
    };
    let p = presigner();
    let req = |unix| PresignRequest {
        method: "PUT",
        key: "k",
        expires_seconds: 60,
        headers: &[],
        query: &[],
        time: SigningTime { unix },
    };
    let a = p.presign(&req(1_795_876_239));
    assert_eq!(a, p.presign(&req(1_795_876_239)));
    assert!(
        a.starts_with("http://127.0.0.1:9000/b/k?"),
        "path-style on an endpoint: {a}"
    );
    let next_day = p.presign(&req(1_795_876_239 + 86_400));
    let fresh = presigner().presign(&req(1_795_876_239 + 86_400));
    assert_eq!(
        next_day, fresh,
        "the cached key is replaced when the date changes"
    );
}

#[test]
fn credentials_never_show_in_debug_output() {
    let c = Credentials {
        access_key_id: "AKID".into(),
        secret_access_key: "very-secret".into(),
        session_token: Some("tok".into()),
    };
    let text = format!("{c:?}");
    assert!(
        !text.contains("very-secret") && !text.contains("tok\""),
        "{text}"
    );
}
