//! Drift: each managed attribute changed out of band is reported by `diff` (exit 2, naming the
//! resource and attribute), repaired by `deploy`, and `diff` is clean again. Modelled on the
//! Terraform provider's `_disappears` tests.

mod support;

use aws_sdk_s3::types::{
    BucketVersioningStatus, CorsConfiguration, CorsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};
use presign_stack::commands::ExitStatus::{Differences, Success};
use support::{s3, TestStack};

const SPEC: &str = r#"
tags:
  team: media
bucket:
  versioning: true
  cors:
    - allowed_origins: ["https://app.example.com"]
      allowed_methods: [PUT]
      allowed_headers: [content-type]
  policy_statements:
    - Sid: DenyDeletes
      Effect: Deny
      Principal: "*"
      Action: s3:DeleteObject
      Resource: "arn:aws:s3:::${bucket}/keep/*"
"#;

/// The shared check, on a fresh stack of `SPEC`; `change` gets an S3 client and the bucket.
async fn drift_is_reported_and_repaired<F, Fut>(
    label: &str,
    resource: &str,
    attribute: &str,
    change: F,
) where
    F: FnOnce(aws_sdk_s3::Client, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stack = TestStack::new(label, SPEC);
    let bucket = stack.bucket();
    support::drift_is_reported_and_repaired(&stack, resource, attribute, |_| async move {
        change(s3().await, bucket).await
    })
    .await;
}

#[tokio::test]
async fn cors_rules_changed_out_of_band() {
    drift_is_reported_and_repaired("d-cors", "bucket_cors", "rules", |s3, b| async move {
        let rule = CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .build()
            .unwrap();
        s3.put_bucket_cors()
            .bucket(b)
            .cors_configuration(
                CorsConfiguration::builder()
                    .cors_rules(rule)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn cors_deleted_out_of_band() {
    drift_is_reported_and_repaired("d-cors-del", "bucket_cors", "deleted", |s3, b| async move {
        s3.delete_bucket_cors().bucket(b).send().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn policy_deleted_out_of_band() {
    drift_is_reported_and_repaired(
        "d-pol-del",
        "bucket_policy",
        "deleted",
        |s3, b| async move {
            s3.delete_bucket_policy().bucket(b).send().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn policy_edited_out_of_band() {
    drift_is_reported_and_repaired("d-pol-edit", "bucket_policy", "document", |s3, b| async move {
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        );
        s3.put_bucket_policy().bucket(b).policy(policy).send().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn public_access_block_flipped_out_of_band() {
    drift_is_reported_and_repaired(
        "d-pab",
        "bucket_public_access_block",
        "block_public_policy",
        |s3, b| async move {
            let config = PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(true)
                .build();
            s3.put_public_access_block()
                .bucket(b)
                .public_access_block_configuration(config)
                .send()
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn encryption_changed_out_of_band() {
    drift_is_reported_and_repaired(
        "d-enc",
        "bucket_encryption",
        "sse_algorithm",
        |s3, b| async move {
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id("alias/someone-elses-key")
                .build()
                .unwrap();
            let config = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .build(),
                )
                .build()
                .unwrap();
            s3.put_bucket_encryption()
                .bucket(b)
                .server_side_encryption_configuration(config)
                .send()
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn tags_edited_out_of_band() {
    drift_is_reported_and_repaired("d-tags", "bucket ", "tags", |s3, b| async move {
        let tags = s3.get_bucket_tagging().bucket(&b).send().await.unwrap();
        let mut edited: Vec<Tag> = tags
            .tag_set()
            .iter()
            .filter(|t| t.key() != "team")
            .cloned()
            .collect();
        edited.push(
            Tag::builder()
                .key("team")
                .value("someone-else")
                .build()
                .unwrap(),
        );
        s3.put_bucket_tagging()
            .bucket(b)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(edited))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn versioning_suspended_out_of_band() {
    drift_is_reported_and_repaired(
        "d-ver",
        "bucket_versioning",
        "enabled",
        |s3, b| async move {
            s3.put_bucket_versioning()
                .bucket(b)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Suspended)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn bucket_deleted_out_of_band() {
    drift_is_reported_and_repaired("d-bucket", "bucket ", "deleted", |s3, b| async move {
        s3.delete_bucket().bucket(b).send().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_policy_rewritten_in_an_equivalent_form_is_not_drift() {
    let stack = TestStack::new(
        "d-equiv",
        r#"
bucket:
  enforce_tls: false
  policy_statements:
    - Sid: ReadForPartner
      Effect: Allow
      Principal: {AWS: ["111122223333"]}
      Action: [s3:GetObject]
      Resource: ["arn:aws:s3:::${bucket}/shared/*"]
"#,
    );
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.expect(&["diff"], Success).await;

    // The same policy as AWS might store it: other key order, whitespace, strings for
    // one-element arrays, the account id expanded to its root ARN.
    let b = stack.bucket();
    let equivalent = format!(
        r#"{{
  "Statement" : [ {{
      "Resource" : "arn:aws:s3:::{b}/shared/*",
      "Action" : "s3:GetObject",
      "Principal" : {{ "AWS" : "arn:aws:iam::111122223333:root" }},
      "Effect" : "Allow",
      "Sid" : "ReadForPartner"
  }} ],
  "Version" : "2012-10-17"
}}"#
    );
    s3().await
        .put_bucket_policy()
        .bucket(&b)
        .policy(equivalent)
        .send()
        .await
        .unwrap();
    let diff = stack.expect(&["diff"], Success).await;
    assert!(diff.stdout.contains("No differences"), "{}", diff.output());
    let deploy = stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(deploy.mutations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_spec_change_is_pending_not_drift_and_deploy_applies_it() {
    let stack = TestStack::new("d-pending", SPEC);
    stack.expect(&["deploy", "--yes"], Success).await;
    stack.write_spec(&SPEC.replace("https://app.example.com", "https://new.example.com"));
    let diff = stack.expect(&["diff"], Differences).await;
    assert!(diff.stdout.contains("Drift: none"), "{}", diff.output());
    let pending = diff
        .stdout
        .split("Pending changes")
        .nth(1)
        .unwrap_or_default();
    assert!(
        pending.contains("bucket_cors") && pending.contains("https://new.example.com"),
        "{}",
        diff.output()
    );
    let deploy = stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(deploy.mutations(), vec!["PutBucketCors".to_string()]);
    stack.expect(&["diff"], Success).await;
}
