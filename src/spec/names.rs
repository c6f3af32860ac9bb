//! Naming rules AWS enforces, checked before any call, and the deterministic default names.

use std::net::Ipv4Addr;

/// The default bucket name when the spec sets none: stable for a stack and region, so a rerun
/// (or a run after a crash) finds the same bucket again.
pub fn default_bucket_name(stack: &str, region: &str) -> String {
    format!("{stack}-uploads-{region}")
}

/// Checks a stack name: it becomes part of bucket, role and function names.
pub fn check_stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 32 {
        return Err(format!(
            "stack name {name:?} must be 1 to 32 characters long (it is {})",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "stack name {name:?} may contain only lowercase letters, digits and hyphens"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!(
            "stack name {name:?} must start and end with a letter or digit"
        ));
    }
    Ok(())
}

/// Checks a general purpose bucket name against S3's naming rules.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!(
            "bucket name {name:?} must be 3 to 63 characters long (it is {len})"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "bucket name {name:?} contains {c:?}: only lowercase letters, digits, hyphens and dots are allowed"
        ));
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[len - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err(format!(
            "bucket name {name:?} must start and end with a letter or digit"
        ));
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(format!(
            "bucket name {name:?} must not contain \"..\", \".-\" or \"-.\""
        ));
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Err(format!(
            "bucket name {name:?} must not be formatted as an IP address"
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!(
                "bucket name {name:?} must not start with {prefix:?} (reserved by S3)"
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!(
                "bucket name {name:?} must not end with {suffix:?} (reserved by S3)"
            ));
        }
    }
    Ok(())
}

/// The regions of AWS's partitions (aws, aws-cn, aws-us-gov, aws-eusc), as of this release.
/// Written out because the SDK ships its partitions as name patterns (which `us-east-9` also
/// matches), not as a list of regions. A region AWS opens later can still be named with
/// `--region` or `AWS_REGION`, which are checked for shape only.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// A region written in the spec: the right shape, and one of [`KNOWN_REGIONS`].
pub fn check_spec_region(region: &str) -> Result<(), String> {
    check_region(region)?;
    if KNOWN_REGIONS.contains(&region) {
        return Ok(());
    }
    let closest = KNOWN_REGIONS
        .iter()
        .min_by_key(|r| strsim::damerau_levenshtein(region, r))
        .copied()
        .unwrap_or("us-east-1");
    Err(format!(
        "{region:?} is not an AWS region (did you mean {closest}?)"
    ))
}

/// The stack's own bucket: S3's rules, and no dots. A dotted name breaks the browser's TLS check
/// on virtual-hosted URLs (`a.b.s3.amazonaws.com` is not covered by the `*.s3.amazonaws.com`
/// certificate), and those are the URLs the signer hands out.
pub fn check_upload_bucket_name(name: &str) -> Result<(), String> {
    check_bucket_name(name)?;
    if name.contains('.') {
        return Err(format!(
            "bucket name {name:?} contains dots: browsers refuse the TLS certificate of virtual-hosted URLs for dotted buckets (*.s3.amazonaws.com covers one label), and the signer hands out those URLs"
        ));
    }
    Ok(())
}

/// Checks the shape of a region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`, ...).
pub fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && (2..=4).contains(&parts[0].len())
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{region:?} is not an AWS region name (expected something like us-east-1 or eu-west-2)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_bucket_names() {
        for name in ["abc", "my-uploads-1", "a.b.c", &"a".repeat(63)] {
            assert_eq!(check_bucket_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_each_bucket_rule() {
        for name in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--punycode",
            "sthree-x",
            "thing-s3alias",
            "x--ol-s3",
        ] {
            assert!(
                check_bucket_name(name).is_err(),
                "{name} should be rejected"
            );
        }
    }

    #[test]
    fn region_shapes() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert_eq!(check_region(ok), Ok(()), "{ok}");
        }
        for bad in ["useast1", "us-east", "US-EAST-1", "us-east-x", "", "us--1"] {
            assert!(check_region(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn spec_regions_are_known_ones() {
        for ok in KNOWN_REGIONS {
            assert_eq!(check_spec_region(ok), Ok(()), "{ok}");
        }
        let err = check_spec_region("us-east-9").unwrap_err();
        assert!(err.contains("did you mean us-east-1"), "{err}");
        assert!(check_spec_region("eu-wset-1")
            .unwrap_err()
            .contains("eu-west-1"));
        assert!(check_upload_bucket_name("acme.photos").is_err());
        assert!(check_upload_bucket_name("acme-photos").is_ok());
    }

    #[test]
    fn stack_names() {
        assert_eq!(check_stack_name("photo-uploads"), Ok(()));
        for bad in ["", "Photo", "a_b", "-a", "a-", &"a".repeat(33)] {
            assert!(check_stack_name(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn default_bucket_name_is_stable_and_valid() {
        let name = default_bucket_name("photo-uploads", "eu-west-1");
        assert_eq!(name, "photo-uploads-uploads-eu-west-1");
        assert_eq!(check_bucket_name(&name), Ok(()));
    }
}
