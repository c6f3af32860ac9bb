//! The function's CloudWatch log group, created before the function so the stack owns it (and
//! destroy removes it) instead of Lambda creating it on first log.
//!
//! Ownership is proven like every other kind: the group is tagged with the stack's name when it
//! is created, and its tags are read with it, so a group someone else made (with years of
//! retention and events) is refused by name, never adopted, re-configured or deleted.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatchlogs::Client;

use super::errors::{absent_as_none, AwsError};
use super::run::Run;
use crate::plan::resources::LogGroupProps;
use crate::spec::OWNERSHIP_TAG;

fn what(name: &str) -> String {
    format!("log group {name}")
}

/// A log group's ARN as tagging takes it (without the `:*` of `DescribeLogGroups`' `arn`).
pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

/// The group's retention and tags. Its tags need its ARN: when the run knows the account
/// ([`Run::account_hint`]) they are asked for beside the group's description, else after it
/// (and again after it when the guess was not the group's ARN).
pub async fn find(run: &Run, name: &str) -> Result<Option<LogGroupProps>, AwsError> {
    let guess = run
        .account_hint
        .as_ref()
        .map(|account| arn(&run.region, account, name));
    read(&run.clients.logs, name, guess).await
}

/// [`find`], with the group's ARN guessed or not.
async fn read(
    logs: &Client,
    name: &str,
    guess: Option<String>,
) -> Result<Option<LogGroupProps>, AwsError> {
    let (described, early) = match &guess {
        Some(arn) => {
            let (d, t) = tokio::join!(describe(logs, name), tags_of(logs, name, arn));
            (d?, Some(t))
        }
        None => (describe(logs, name).await?, None),
    };
    let Some((retention_days, arn)) = described else {
        return Ok(None);
    };
    let tags = match early {
        Some(Ok(Some(tags))) if guess.as_deref() == Some(arn.as_str()) => tags,
        _ => match tags_of(logs, name, &arn).await? {
            Some(tags) => tags,
            None => return Ok(None), // deleted while it was being read
        },
    };
    Ok(Some(LogGroupProps {
        name: name.to_string(),
        retention_days,
        tags,
    }))
}

/// The group's retention and ARN (the one tagging takes); `None` when there is no such group.
async fn describe(logs: &Client, name: &str) -> Result<Option<(i32, String)>, AwsError> {
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
            // `logGroupArn` is the ARN without the `:*` suffix of `arn`: the one tagging takes.
            let arn = g
                .log_group_arn()
                .map(str::to_string)
                .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_string()))
                .unwrap_or_default();
            return Ok(Some((g.retention_in_days().unwrap_or(0), arn)));
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(None),
        }
    }
}

async fn tags_of(
    logs: &Client,
    name: &str,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let out = absent_as_none(
        logs.list_tags_for_resource().resource_arn(arn).send().await,
        |e| e.is_resource_not_found_exception(),
        "ListTagsForResource",
        &what(name),
    )?;
    Ok(out.map(|o| {
        o.tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }))
}

/// An error unless the group carries `stack`'s ownership tag.
fn check_ours(p: &LogGroupProps, stack: &str, operation: &'static str) -> Result<(), AwsError> {
    match p.tags.get(OWNERSHIP_TAG) {
        Some(owner) if owner == stack => Ok(()),
        Some(owner) => Err(AwsError::new(
            operation,
            what(&p.name),
            format!("it belongs to stack {owner:?}, not {stack:?}"),
            "presign-stack never changes or deletes another stack's resources; rename the stack or the function",
        )),
        None => Err(AwsError::new(
            operation,
            what(&p.name),
            format!("it exists and was not created by presign-stack (it has no {OWNERSHIP_TAG} tag)"),
            "presign-stack never adopts, changes or deletes a log group it did not create: set function.name to another name, or delete the group yourself if it is unused",
        )),
    }
}

/// Creates the group with the stack's tags, then sets its retention. A group that already
/// exists is taken only when it carries this stack's ownership tag (a run that crashed after
/// creating it); anyone else's is refused.
pub async fn create(logs: &Client, p: &LogGroupProps, stack: &str) -> Result<(), AwsError> {
    let tags: HashMap<String, String> = p.tags.clone().into_iter().collect();
    match logs
        .create_log_group()
        .log_group_name(&p.name)
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            match read(logs, &p.name, None).await? {
                Some(live) => check_ours(&live, stack, "CreateLogGroup")?,
                None => return Err(AwsError::from_sdk("CreateLogGroup", what(&p.name), e)),
            }
        }
        Err(e) => return Err(AwsError::from_sdk("CreateLogGroup", what(&p.name), e)),
    }
    put_retention(logs, p).await
}

/// Brings retention and tags to `p`; refused unless the live group is this stack's.
pub async fn update(
    logs: &Client,
    live: &LogGroupProps,
    p: &LogGroupProps,
    stack: &str,
) -> Result<(), AwsError> {
    check_ours(live, stack, "PutRetentionPolicy")?;
    if live.retention_days != p.retention_days {
        put_retention(logs, p).await?;
    }
    if live.tags != p.tags {
        let Some((_, arn)) = describe(logs, &p.name).await? else {
            return Ok(());
        };
        let stale = super::stale_tag_keys(Some(&live.tags), &p.tags);
        if !stale.is_empty() {
            logs.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("UntagResource", what(&p.name), e))?;
        }
        logs.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(p.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TagResource", what(&p.name), e))?;
    }
    Ok(())
}

async fn put_retention(logs: &Client, p: &LogGroupProps) -> Result<(), AwsError> {
    logs.put_retention_policy()
        .log_group_name(&p.name)
        .retention_in_days(p.retention_days)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutRetentionPolicy", what(&p.name), e))?;
    Ok(())
}

/// Deletes the group, with its events, only if it carries this stack's ownership tag (read
/// just before); a missing group is success.
pub async fn delete(run: &Run, name: &str) -> Result<(), AwsError> {
    let (logs, stack) = (&run.clients.logs, &run.stack);
    let Some(live) = find(run, name).await? else {
        return Ok(());
    };
    check_ours(&live, stack, "DeleteLogGroup")?;
    absent_as_none(
        logs.delete_log_group().log_group_name(name).send().await,
        |e| e.is_resource_not_found_exception(),
        "DeleteLogGroup",
        &what(name),
    )?;
    Ok(())
}
