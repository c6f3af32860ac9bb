//! Expansion: a validated [`Stack`] becomes the list of resources it wants, with dependencies.

use serde_json::{json, Value};

use super::normalize;
use super::resources::*;
use crate::spec::{names, Encryption, Stack, OWNERSHIP_TAG};

/// Logical ids of the bucket family.
pub mod ids {
    pub const BUCKET: &str = "bucket";
    pub const OWNERSHIP: &str = "bucket_ownership";
    pub const PUBLIC_ACCESS_BLOCK: &str = "bucket_public_access_block";
    pub const ENCRYPTION: &str = "bucket_encryption";
    pub const VERSIONING: &str = "bucket_versioning";
    pub const CORS: &str = "bucket_cors";
    pub const POLICY: &str = "bucket_policy";
}

/// The bucket name the stack uses in `region`.
pub fn bucket_name(stack: &Stack, region: &str) -> String {
    stack
        .bucket
        .name
        .clone()
        .unwrap_or_else(|| names::default_bucket_name(&stack.name, region))
}

/// Every resource the stack wants in `region`, in dependency order.
pub fn desired(stack: &Stack, region: &str) -> Vec<Resource> {
    let bucket = bucket_name(stack, region);
    let b = &stack.bucket;
    let mut tags = b.tags.clone();
    tags.insert(OWNERSHIP_TAG.to_string(), stack.name.clone());
    let on_bucket = || vec![ids::BUCKET.to_string()];

    let mut out = vec![
        Resource {
            id: ids::BUCKET.into(),
            props: Props::S3Bucket(BucketProps {
                name: bucket.clone(),
                region: region.to_string(),
                tags,
            }),
            depends_on: vec![],
        },
        Resource {
            id: ids::OWNERSHIP.into(),
            props: Props::S3BucketOwnershipControls(OwnershipProps {
                bucket: bucket.clone(),
                object_ownership: "BucketOwnerEnforced".into(),
            }),
            depends_on: on_bucket(),
        },
        Resource {
            id: ids::PUBLIC_ACCESS_BLOCK.into(),
            // Public read is granted by the bucket policy only: ACLs stay blocked, and the
            // policy blocks are lifted only when the spec asks for a public prefix.
            props: Props::S3BucketPublicAccessBlock(PublicAccessBlockProps {
                bucket: bucket.clone(),
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: b.public_read_prefix.is_none(),
                restrict_public_buckets: b.public_read_prefix.is_none(),
            }),
            depends_on: on_bucket(),
        },
        Resource {
            id: ids::ENCRYPTION.into(),
            props: Props::S3BucketEncryption(match &b.encryption {
                Encryption::SseS3 => EncryptionProps {
                    bucket: bucket.clone(),
                    sse_algorithm: "AES256".into(),
                    kms_master_key_id: None,
                    bucket_key_enabled: false,
                },
                Encryption::SseKms { key_id, bucket_key } => EncryptionProps {
                    bucket: bucket.clone(),
                    sse_algorithm: "aws:kms".into(),
                    kms_master_key_id: key_id.clone(),
                    bucket_key_enabled: *bucket_key,
                },
            }),
            depends_on: on_bucket(),
        },
        Resource {
            id: ids::VERSIONING.into(),
            props: Props::S3BucketVersioning(VersioningProps {
                bucket: bucket.clone(),
                enabled: b.versioning,
            }),
            depends_on: on_bucket(),
        },
    ];
    if !b.cors.is_empty() {
        out.push(Resource {
            id: ids::CORS.into(),
            props: Props::S3BucketCors(CorsProps {
                bucket: bucket.clone(),
                rules: b
                    .cors
                    .iter()
                    .map(|r| {
                        normalize::cors_rule(CorsRuleProps {
                            id: r.id.clone(),
                            allowed_origins: r.allowed_origins.clone(),
                            allowed_methods: r.allowed_methods.clone(),
                            allowed_headers: r.allowed_headers.clone(),
                            expose_headers: r.expose_headers.clone(),
                            max_age_seconds: r.max_age_seconds,
                        })
                    })
                    .collect(),
            }),
            depends_on: on_bucket(),
        });
    }
    if let Some(document) = policy(stack, &bucket) {
        out.push(Resource {
            id: ids::POLICY.into(),
            props: Props::S3BucketPolicy(PolicyProps {
                bucket: bucket.clone(),
                document: normalize::policy_document(&document),
            }),
            // A public statement is refused while the public access block blocks public
            // policies: relax the block first.
            depends_on: vec![ids::BUCKET.into(), ids::PUBLIC_ACCESS_BLOCK.into()],
        });
    }
    out
}

/// The bucket policy the stack wants, before normalisation; `None` when it has no statement.
pub fn policy(stack: &Stack, bucket: &str) -> Option<Value> {
    let b = &stack.bucket;
    let arn = format!("arn:aws:s3:::{bucket}");
    let mut statements = Vec::new();
    if b.enforce_tls {
        statements.push(json!({
            "Sid": "PresignStackDenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }));
    }
    if let Some(prefix) = &b.public_read_prefix {
        statements.push(json!({
            "Sid": "PresignStackPublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("{arn}/{prefix}*")
        }));
    }
    for s in &b.policy_statements {
        statements.push(substitute_bucket(s, bucket));
    }
    if statements.is_empty() {
        return None;
    }
    Some(json!({"Version": "2012-10-17", "Statement": statements}))
}

/// Replaces `${bucket}` in every string of a user statement.
fn substitute_bucket(v: &Value, bucket: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("${bucket}", bucket)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| substitute_bucket(i, bucket)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_bucket(v, bucket)))
                .collect(),
        ),
        other => other.clone(),
    }
}
