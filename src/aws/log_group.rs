//! The function's CloudWatch log group, created before the function so the stack owns it (and
//! destroy removes it) instead of Lambda creating it on first log.

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::Client;

use super::errors::{absent_as_none, AwsError};
use crate::plan::resources::LogGroupProps;
use crate::spec::OWNERSHIP_TAG;

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

fn what(name: &str) -> String {
    format!("log group {name}")
}

pub async fn find(logs: &Client, name: &str) -> Result<Option<LogGroupProps>, AwsError> {
    let mut token = None;
    loop {
        let page = logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeLogGroups", what(name), e))?;
        if let Some(g) = page
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            return Ok(Some(LogGroupProps {
                name: name.to_string(),
                retention_days: g.retention_in_days().unwrap_or(0),
            }));
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(None),
        }
    }
}

pub async fn create(logs: &Client, p: &LogGroupProps, stack: &str) -> Result<(), AwsError> {
    let tags = HashMap::from([(OWNERSHIP_TAG.to_string(), stack.to_string())]);
    match logs
        .create_log_group()
        .log_group_name(&p.name)
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if super::errors::has_code(&e, &["ResourceAlreadyExistsException"]) => {}
        Err(e) => return Err(AwsError::from_sdk("CreateLogGroup", what(&p.name), e)),
    }
    put_retention(logs, p).await
}

pub async fn put_retention(logs: &Client, p: &LogGroupProps) -> Result<(), AwsError> {
    logs.put_retention_policy()
        .log_group_name(&p.name)
        .retention_in_days(p.retention_days)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutRetentionPolicy", what(&p.name), e))?;
    Ok(())
}

pub async fn delete(logs: &Client, name: &str) -> Result<(), AwsError> {
    absent_as_none(
        logs.delete_log_group().log_group_name(name).send().await,
        NOT_FOUND,
        "DeleteLogGroup",
        &what(name),
    )?;
    Ok(())
}
