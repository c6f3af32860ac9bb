//! Regressions for the attack on the deployed stack (issue 14): each test is one finding, written
//! from its description as a hostile caller, a hostile spec or a hostile out-of-band change would
//! make it, against moto over HTTP (finding 6, where signatures matter, is in
//! `lambda/tests/e2e_s3s.rs` against s3s-fs). Every one of them failed before the fix.

mod support;

use std::time::Duration;

use aws_sdk_apigatewayv2::types::IntegrationType;
use presign_stack::commands::ExitStatus::{Differences, Failure, Success};
use support::{apigw, http_request, iam, lambda, logs, DevServer, TestStack, REGION};

const ACCOUNT: &str = "123456789012";

/// A customer managed policy granting everything (moto loads AWS's own managed policies, such
/// as `AdministratorAccess`, only on request): one per role, named after it.
async fn admin_policy(role: &str) -> String {
    let out = iam()
        .await
        .create_policy()
        .policy_name(format!("{role}-admin"))
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    out.policy().unwrap().arn().unwrap().to_string()
}

fn signer_spec() -> &'static str {
    "bucket:\n  enforce_tls: false\napi:\n  cors_origins: [\"https://app.example.com\"]\n"
}

fn function_arn(stack: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack}-signer")
}

/// Every API named `<stack>-api`: (id, tags).
async fn apis_named(stack: &str) -> Vec<(String, std::collections::HashMap<String, String>)> {
    let out = apigw().await.get_apis().send().await.unwrap();
    out.items()
        .iter()
        .filter(|a| a.name() == Some(format!("{stack}-api").as_str()))
        .map(|a| {
            (
                a.api_id().unwrap().to_string(),
                a.tags().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Edits the stack's state file through `edit`.
fn edit_state(stack: &TestStack, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = stack.state_path();
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut state);
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
}

async fn retention_of(group: &str) -> Option<i32> {
    let out = logs()
        .await
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .unwrap();
    out.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
        .map(|g| g.retention_in_days().unwrap_or(0))
}

/// Finding 1: a pre-existing `/aws/lambda/<function>` group was adopted (its retention lowered to
/// 14 days) and deleted by destroy with its events.
#[tokio::test]
async fn finding_1_someone_elses_log_group_is_refused_by_name_not_adopted() {
    let stack = TestStack::new("a-logs", signer_spec());
    let group = format!("/aws/lambda/{}-signer", stack.name);
    let logs = logs().await;
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    logs.put_retention_policy()
        .log_group_name(&group)
        .retention_in_days(3653)
        .send()
        .await
        .unwrap();

    let run = stack.expect(&["deploy", "--yes"], Failure).await;
    assert!(run.stderr.contains(&group), "{}", run.output());
    assert!(
        run.stderr.contains("not created by presign-stack"),
        "{}",
        run.output()
    );
    assert_eq!(retention_of(&group).await, Some(3653), "left as it was");
    assert!(
        run.mutations().is_empty(),
        "refused before any change: {:?}",
        run.calls
    );
    logs.delete_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
}

/// Finding 1, second half: a state file whose log group id is edited to another group made
/// destroy delete that group.
#[tokio::test]
async fn finding_1_destroy_never_deletes_a_log_group_swapped_into_the_state() {
    let stack = TestStack::new("a-logswap", signer_spec());
    stack.expect(&["deploy", "--yes"], Success).await;
    let victim = format!("/team/{}-audit", stack.name);
    logs()
        .await
        .create_log_group()
        .log_group_name(&victim)
        .send()
        .await
        .unwrap();
    edit_state(&stack, |state| {
        let group = &mut state["resources"]["log_group"];
        group["physical_id"] = victim.clone().into();
        group["props"]["name"] = victim.clone().into();
    });
    let run = stack.expect(&["destroy", "--yes"], Failure).await;
    assert!(
        run.stderr.contains("Not destroying log_group"),
        "{}",
        run.output()
    );
    assert!(retention_of(&victim).await.is_some(), "the victim stays");
    assert!(stack.state().unwrap().resources.contains_key("log_group"));
}

/// Finding 2: an API that lost its ownership tag was dropped from the state by destroy without a
/// word; the next deploy made a second API and the last destroy left the first behind.
#[tokio::test]
async fn finding_2_an_api_that_lost_its_tag_is_reported_kept_and_never_duplicated() {
    let stack = TestStack::new("a-apitag", signer_spec());
    stack.expect(&["deploy", "--yes"], Success).await;
    let [(id, _)] = &apis_named(&stack.name).await[..] else {
        panic!("one API")
    };
    apigw()
        .await
        .untag_resource()
        .resource_arn(format!("arn:aws:apigateway:{REGION}::/apis/{id}"))
        .tag_keys("presign-stack:stack")
        .send()
        .await
        .unwrap();

    let run = stack.expect(&["destroy", "--yes"], Failure).await;
    assert!(
        run.stderr.contains("Not destroying api"),
        "{}",
        run.output()
    );
    assert!(
        run.stderr.contains("left 1 resource(s) in place"),
        "{}",
        run.output()
    );
    assert!(
        stack.state().unwrap().resources.contains_key("api"),
        "still recorded"
    );
    assert_eq!(apis_named(&stack.name).await.len(), 1, "not deleted");

    stack.expect(&["deploy", "--yes"], Success).await;
    let apis = apis_named(&stack.name).await;
    assert_eq!(apis.len(), 1, "no second API: {apis:?}");
    assert_eq!(&apis[0].0, id);
    assert_eq!(
        apis[0].1.get("presign-stack:stack"),
        Some(&stack.name),
        "deploy restored the tag of the API its state records"
    );
    stack.expect(&["destroy", "--yes"], Success).await;
    assert!(
        apis_named(&stack.name).await.is_empty(),
        "nothing left behind"
    );
}

async fn attached(role: &str) -> Vec<String> {
    let out = iam()
        .await
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    out.attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}

async fn inline(role: &str) -> Vec<String> {
    let out = iam()
        .await
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    out.policy_names().to_vec()
}

/// Attaches an admin policy and adds a second inline policy granting `s3:*` on `*`; the
/// admin policy's ARN.
async fn widen_role(role: &str) -> String {
    let admin = admin_policy(role).await;
    let iam = iam().await;
    iam.attach_role_policy()
        .role_name(role)
        .policy_arn(&admin)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(role)
        .policy_name("extra")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    admin
}

/// Finding 3: `AdministratorAccess` attached to the role, or a second inline policy granting
/// `s3:*` on `*`, gave "No differences", and deploy left it.
#[tokio::test]
async fn finding_3_policies_added_to_the_role_are_drift_and_deploy_removes_them() {
    let stack = TestStack::new("a-role", signer_spec());
    let role = format!("{}-signer", stack.name);
    stack.expect(&["deploy", "--yes"], Success).await;
    let admin = widen_role(&role).await;

    let diff = stack.expect(&["diff"], Differences).await;
    for words in [
        "role",
        "attached_policies",
        &admin,
        "other_inline_policies",
        "extra",
    ] {
        assert!(diff.stdout.contains(words), "{words}\n{}", diff.output());
    }
    stack.expect(&["deploy", "--yes"], Success).await;
    assert_eq!(attached(&role).await, Vec::<String>::new());
    assert_eq!(
        inline(&role).await,
        vec![role.clone()],
        "only the stack's own"
    );
    stack.expect(&["diff"], Success).await;
}

/// Finding 3, destroy: `DeleteRole` failed with `DeleteConflict` and a hint ("run the command
/// again") that could not help. The role is now left, named, with the exact next step, and the
/// rest of the stack is destroyed.
#[tokio::test]
async fn finding_3_destroy_leaves_a_role_with_foreign_policies_and_says_how_to_finish() {
    let stack = TestStack::new("a-roledel", signer_spec());
    let role = format!("{}-signer", stack.name);
    stack.expect(&["deploy", "--yes"], Success).await;
    let admin = widen_role(&role).await;

    let run = stack.expect(&["destroy", "--yes"], Failure).await;
    let text = run.output();
    assert!(text.contains("Not destroying role"), "{text}");
    assert!(
        text.contains(&format!(
            "aws iam detach-role-policy --role-name {role} --policy-arn {admin}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "aws iam delete-role-policy --role-name {role} --policy-name extra"
        )),
        "{text}"
    );
    assert_eq!(attached(&role).await, vec![admin.clone()], "not touched");
    let state = stack.state().unwrap();
    assert!(state.resources.contains_key("role"));
    assert!(!state.resources.contains_key("function"), "the rest went");

    // Following the advice finishes the job.
    let iam = iam().await;
    iam.detach_role_policy()
        .role_name(&role)
        .policy_arn(&admin)
        .send()
        .await
        .unwrap();
    iam.delete_role_policy()
        .role_name(&role)
        .policy_name("extra")
        .send()
        .await
        .unwrap();
    stack.expect(&["destroy", "--yes"], Success).await;
    assert!(iam.get_role().role_name(&role).send().await.is_err());
}

/// The API's route: (route id, target integration id).
async fn route_of(api: &str) -> (String, Option<String>) {
    let routes = apigw().await.get_routes().api_id(api).send().await.unwrap();
    let r = &routes.items()[0];
    (
        r.route_id().unwrap().to_string(),
        r.target()
            .and_then(|t| t.strip_prefix("integrations/"))
            .map(str::to_string),
    )
}

async fn integration_uri(api: &str, integration: &str) -> String {
    apigw()
        .await
        .get_integration()
        .api_id(api)
        .integration_id(integration)
        .send()
        .await
        .unwrap()
        .integration_uri()
        .unwrap()
        .to_string()
}

/// Statement ids on a function's resource policy.
async fn statement_ids(function: &str) -> Vec<String> {
    let Ok(policy) = lambda()
        .await
        .get_policy()
        .function_name(function)
        .send()
        .await
    else {
        return Vec::new();
    };
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["Sid"].as_str().map(str::to_string))
        .collect()
}

/// Finding 4: with the route's integration deleted and the route recreated without a target,
/// deploy made an integration and a permission but never pointed the route at it, and `diff`
/// said in sync while the API no longer reached the signer.
#[tokio::test]
async fn finding_4_a_route_without_target_is_drift_and_is_pointed_at_the_stacks_integration() {
    let stack = TestStack::new("a-wire", signer_spec());
    stack.expect(&["deploy", "--yes"], Success).await;
    let [(api, _)] = &apis_named(&stack.name).await[..] else {
        panic!("one API")
    };
    let gw = apigw().await;
    let (route, Some(integration)) = route_of(api).await else {
        panic!("a wired route")
    };
    gw.delete_route()
        .api_id(api)
        .route_id(&route)
        .send()
        .await
        .unwrap();
    gw.delete_integration()
        .api_id(api)
        .integration_id(&integration)
        .send()
        .await
        .unwrap();
    gw.create_route()
        .api_id(api)
        .route_key("GET /sign")
        .send()
        .await
        .unwrap();

    let diff = stack.expect(&["diff"], Differences).await;
    assert!(diff.stdout.contains("integration"), "{}", diff.output());
    stack.expect(&["deploy", "--yes"], Success).await;
    let (_, target) = route_of(api).await;
    let target = target.expect("the route has a target again");
    assert_eq!(
        integration_uri(api, &target).await,
        function_arn(&stack.name)
    );
    stack.expect(&["diff"], Success).await;
}

/// Finding 4, second half: with the route pointed at another function's integration, deploy
/// updated that integration, never converged, and removed the invoke permission of the other
/// stack's function (every stack used the same statement id).
#[tokio::test]
async fn finding_4_repairing_a_route_never_touches_another_stacks_integration_or_permission() {
    let ours = TestStack::new("a-wire-a", signer_spec());
    let theirs = TestStack::new("a-wire-b", signer_spec());
    ours.expect(&["deploy", "--yes"], Success).await;
    theirs.expect(&["deploy", "--yes"], Success).await;
    let their_function = format!("{}-signer", theirs.name);
    let their_statements = statement_ids(&their_function).await;
    assert!(!their_statements.is_empty());

    let [(api, _)] = &apis_named(&ours.name).await[..] else {
        panic!("one API")
    };
    let gw = apigw().await;
    let foreign = gw
        .create_integration()
        .api_id(api)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri(function_arn(&theirs.name))
        .payload_format_version("2.0")
        .send()
        .await
        .unwrap()
        .integration_id()
        .unwrap()
        .to_string();
    let (route, _) = route_of(api).await;
    gw.update_route()
        .api_id(api)
        .route_id(&route)
        .target(format!("integrations/{foreign}"))
        .send()
        .await
        .unwrap();

    ours.expect(&["diff"], Differences).await;
    ours.expect(&["deploy", "--yes"], Success).await;
    let (_, target) = route_of(api).await;
    let target = target.unwrap();
    assert_ne!(target, foreign, "the route left the foreign integration");
    assert_eq!(
        integration_uri(api, &target).await,
        function_arn(&ours.name)
    );
    assert_eq!(
        integration_uri(api, &foreign).await,
        function_arn(&theirs.name),
        "the foreign integration was not rewritten"
    );
    assert_eq!(
        statement_ids(&their_function).await,
        their_statements,
        "the other stack's permission is untouched"
    );
    ours.expect(&["diff"], Success).await;
    theirs.expect(&["diff"], Success).await;
}

/// `validate` on `body`: exit 1 with `words` at `line:column` (no AWS call).
async fn invalid(label: &str, body: &str, at: &str, words: &str) {
    let stack = TestStack::new(label, body);
    let run = stack.expect(&["validate"], Failure).await;
    assert!(
        run.stderr.contains(&format!("stack.yaml:{at}: ")),
        "{label}: expected {at}\n{}",
        run.output()
    );
    assert!(
        run.stderr.contains(words),
        "{label}: {words}\n{}",
        run.output()
    );
    assert!(run.calls.is_empty());
}

/// Finding 5: `public_read` plus an `Allow` / `Principal: "*"` / `s3:*` statement deployed a
/// bucket anyone could write, delete and re-policy; `NotPrincipal`/`NotAction` with `Allow` and
/// 5,000 statements were accepted too.
#[tokio::test]
async fn finding_5_world_writable_and_unbounded_bucket_policies_are_refused_at_validate() {
    let open = "bucket:\n  public_read:\n    prefix: public/\n  policy_statements:\n    - Sid: Open\n      Effect: Allow\n      Principal: \"*\"\n      Action: s3:*\n      Resource: \"arn:aws:s3:::${bucket}/*\"\n";
    invalid("a-open", open, "7:7", "anyone on the internet").await;
    let aws_star = "bucket:\n  policy_statements:\n    - Sid: Open\n      Effect: Allow\n      Principal: {AWS: \"*\"}\n      Action: s3:PutObject\n      Resource: \"arn:aws:s3:::${bucket}/*\"\n";
    invalid("a-awsstar", aws_star, "5:7", "public_statements: [Open]").await;
    let not_principal = "bucket:\n  policy_statements:\n    - Effect: Allow\n      NotPrincipal: {AWS: \"arn:aws:iam::111122223333:root\"}\n      Action: s3:GetObject\n      Resource: \"arn:aws:s3:::${bucket}/*\"\n";
    invalid("a-notp", not_principal, "5:7", "NotPrincipal").await;
    let not_action = "bucket:\n  policy_statements:\n    - Effect: Allow\n      Principal: {AWS: \"arn:aws:iam::111122223333:root\"}\n      NotAction: s3:DeleteObject\n      Resource: \"arn:aws:s3:::${bucket}/*\"\n";
    invalid("a-nota", not_action, "5:7", "NotAction").await;
    let condition = "bucket:\n  policy_statements:\n    - Effect: Deny\n      Principal: \"*\"\n      Action: s3:DeleteObject\n      Resource: \"arn:aws:s3:::${bucket}/*\"\n      Condition: {StringEqualz: {aws:PrincipalTag/team: [platform]}}\n";
    invalid("a-cond", condition, "5:7", "malformed Condition").await;
    let mut many = String::from("bucket:\n  policy_statements:\n");
    for i in 0..5000 {
        many.push_str(&format!("    - {{Sid: D{i}, Effect: Deny, Principal: \"*\", Action: s3:DeleteObject, Resource: \"arn:aws:s3:::${{bucket}}/k{i}/*\"}}\n"));
    }
    let stack = TestStack::new("a-many", &many);
    let run = stack.expect(&["validate"], Failure).await;
    assert!(run.stderr.contains("20480 bytes"), "{}", run.output());

    // A deliberate, named opt-in is accepted (and reads as what it is).
    let opted = "bucket:\n  public_statements: [ReadFromVpc]\n  policy_statements:\n    - Sid: ReadFromVpc\n      Effect: Allow\n      Principal: \"*\"\n      Action: s3:GetObject\n      Resource: \"arn:aws:s3:::${bucket}/*\"\n      Condition: {StringEquals: {aws:SourceVpce: vpce-1a2b3c4d}}\n";
    TestStack::new("a-opted", opted)
        .expect(&["validate"], Success)
        .await;
}

/// Runs the real binary on `args` and waits (with a deadline) for it to exit.
fn bounded(args: &[&str]) -> std::process::Output {
    let mut child = support::command(args).spawn().unwrap();
    support::wait_until(
        Duration::from_secs(60),
        &format!("presign-stack {args:?} to exit"),
        || child.try_wait().unwrap().is_some(),
    );
    child.wait_with_output().unwrap()
}

/// Finding 7: the 1 MiB cap was checked against the file's metadata (0 for `/dev/zero`, a FIFO or
/// `<(...)`), and `validate` re-parsed the whole file for each environment.
#[test]
fn finding_7_spec_reading_is_bounded_and_environments_are_capped() {
    let out = bounded(&["validate", "-f", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("over 1048576 bytes"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stack.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let chunk = vec![b'#'; 64 * 1024];
                while f.write_all(&chunk).is_ok() {}
            }
        })
    };
    let out = bounded(&["validate", "-f", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("over 1048576 bytes"));
    writer.join().unwrap();

    let envs = |n: usize| {
        let mut text = String::from("stack: many\nregion: us-east-1\nenvironments:\n");
        for i in 0..n {
            text.push_str(&format!("  e{i}: {{}}\n"));
        }
        text
    };
    let spec = dir.path().join("envs.yaml");
    std::fs::write(&spec, envs(1000)).unwrap();
    let out = bounded(&["validate", "-f", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1000 environments; at most 100"),
        "{stderr}"
    );
    std::fs::write(&spec, envs(100)).unwrap();
    let out = bounded(&["validate", "-f", spec.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.matches("  environment e").count(), 100, "{stdout}");
}

/// Finding 8: `prefix: "*"` made the role's resource the whole bucket; an empty type list
/// validated (and the function then failed every request); `'image/jpeg,text/html'` validated
/// and admitted text/html.
#[tokio::test]
async fn finding_8_wildcard_prefixes_and_smuggled_types_are_refused() {
    invalid(
        "a-prefix",
        "uploads:\n  prefix: \"*\"\n",
        "4:11",
        "must not contain * or ?",
    )
    .await;
    invalid(
        "a-prefixq",
        "uploads:\n  prefix: up?oads/\n",
        "4:11",
        "must not contain * or ?",
    )
    .await;
    invalid(
        "a-notypes",
        "uploads:\n  allowed_content_types: []\n",
        "4:26",
        "allowed_content_types is empty",
    )
    .await;
    invalid(
        "a-comma",
        "uploads:\n  allowed_content_types: ['image/jpeg,text/html']\n",
        "4:27",
        "is not a content type",
    )
    .await;
    invalid(
        "a-param",
        "uploads:\n  allowed_content_types: [\"text/plain; charset=utf-8\"]\n",
        "4:27",
        "is not a content type",
    )
    .await;
    // Named explicitly, a type that carries script is allowed, with a warning.
    let stack = TestStack::new(
        "a-svg",
        "uploads:\n  allowed_content_types: [image/png, image/svg+xml]\n",
    );
    let run = stack.expect(&["validate"], Success).await;
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("image/svg+xml can carry script"),
        "{}",
        run.output()
    );
}

/// Finding 10: with `sse-kms` and a customer key the role had no `kms:GenerateDataKey`, so every
/// upload would fail with AccessDenied on AWS (moto does not check it).
#[tokio::test]
async fn finding_10_a_customer_kms_key_is_granted_to_the_signer() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let stack = TestStack::new(
        "a-kms",
        &format!("bucket:\n  enforce_tls: false\n  encryption:\n    type: sse-kms\n    kms_key_id: {key}\nuploads:\n  allow_downloads: true\n"),
    );
    stack.expect(&["deploy", "--yes"], Success).await;
    let role = format!("{}-signer", stack.name);
    let policy = iam()
        .await
        .get_role_policy()
        .role_name(&role)
        .policy_name(&role)
        .send()
        .await
        .unwrap();
    let doc = presign_stack::aws::iam_role::decode_document(policy.policy_document()).unwrap();
    let grant = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "UseUploadKey")
        .unwrap_or_else(|| panic!("a statement for the key: {doc}"));
    assert_eq!(grant["Effect"], "Allow");
    assert_eq!(grant["Resource"], key);
    let actions: Vec<&str> = match &grant["Action"] {
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        v => vec![v.as_str().unwrap()],
    };
    assert!(actions.contains(&"kms:GenerateDataKey"), "{actions:?}");
    assert!(actions.contains(&"kms:Decrypt"), "downloads: {actions:?}");
    stack.expect(&["destroy", "--yes"], Success).await;
}

/// Finding 9: `dev` differed from the deployed API: invalid UTF-8 became U+FFFD and was signed,
/// bidi/zero-width characters and slash look-alikes were accepted, a preflight echoed any
/// requested header, and `api.jwt` was ignored.
#[test]
fn finding_9_dev_answers_as_the_deployed_function_and_api_do() {
    let stack = TestStack::new(
        "a-dev",
        "bucket:\n  enforce_tls: false\nuploads:\n  allowed_content_types: [image/*]\napi:\n  cors_origins: [\"https://app.example.com\"]\n  jwt:\n    issuer: https://issuer.example.com/pool\n    audience: [web-client]\n",
    );
    let dev = DevServer::start(&stack.spec());
    let token = dev
        .banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("Authorization: Bearer "))
        .unwrap_or_else(|| panic!("dev prints a local token:\n{}", dev.banner))
        .to_string();
    let bearer = format!("Bearer {token}");
    let get = |query: &str, auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        http_request(&dev.base, "GET", &format!("/sign?{query}"), &headers)
    };

    let ok = "filekey=cat.jpg&contentType=image%2Fjpeg";
    let (status, _, body) = get(ok, None);
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"message":"Unauthorized"}"#)
    );
    let (status, _, _) = get(ok, Some("Bearer not.a.token"));
    assert_eq!(status, 401);
    let (status, _, body) = get(ok, Some(&bearer));
    assert_eq!(status, 200, "{body}");

    for key in [
        "%FF%FEcat.jpg",           // not UTF-8
        "invoice%E2%80%AEgpj.exe", // U+202E RIGHT-TO-LEFT OVERRIDE
        "cat%E2%80%8B.jpg",        // U+200B ZERO WIDTH SPACE
        "a%E2%88%95b.jpg",         // U+2215 DIVISION SLASH
        "a%E2%81%84b.jpg",         // U+2044 FRACTION SLASH
    ] {
        let (status, _, body) = get(
            &format!("filekey={key}&contentType=image%2Fjpeg"),
            Some(&bearer),
        );
        assert_eq!(status, 400, "{key}: {body}");
        assert!(body.contains("invalid_filekey"), "{key}: {body}");
    }
    // `image/*` does not admit SVG, which carries script.
    let (status, _, body) = get("filekey=a.svg&contentType=image%2Fsvg%2Bxml", Some(&bearer));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("content_type_not_allowed"), "{body}");

    // A preflight gets the API's allowed headers, not an echo of what was asked.
    let (status, headers, _) = http_request(
        &dev.base,
        "OPTIONS",
        "/sign",
        &[
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-evil,authorization"),
        ],
    );
    assert_eq!(status, 204);
    let allowed = headers
        .iter()
        .find(|(k, _)| k == "access-control-allow-headers")
        .map(|(_, v)| v.as_str());
    assert_eq!(allowed, Some("authorization,content-type"));
}
