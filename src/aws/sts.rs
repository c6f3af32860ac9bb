//! Who we are: the account id, needed in ARNs and in the role's trust condition.

use super::errors::AwsError;

pub async fn account_id(sts: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", "the caller's identity", e))?;
    out.account().map(str::to_string).ok_or_else(|| {
        AwsError::new(
            "GetCallerIdentity",
            "the caller's identity",
            "AWS returned no account id",
            "check the credentials in use",
        )
    })
}
