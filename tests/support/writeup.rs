//! The original write-up's stack (../shared/seeds/), built by hand against moto the way a person
//! following it through the console would: a bucket with Appendix 3's CORS (any origin) and
//! Appendix 2's public-read policy, a role with a policy the console wizard attached, a Node.js
//! function with Appendix 1's handler, and an HTTP API whose trigger is the function. Nothing
//! carries presign-stack's ownership tag: this is what `import` has to adopt.

use std::io::Write;

use super::{apigw, iam, lambda, s3};

/// Appendix 1, as pasted into the console (aws-sdk v2, `public-read` ACL, 600 s).
pub const APPENDIX_1: &str = r#"var AWS = require('aws-sdk');
var s3 = new AWS.S3({ signatureVersion: 'v4' });
exports.handler = (event, context) => {
  try {
    if (!event.queryStringParameters) throw `Missing required parameters "filekey" and "contentType"`;
    const url = s3.getSignedUrl('putObject', {
      Bucket: process.env.BUCKET, Key: event.queryStringParameters.filekey,
      ContentType: event.queryStringParameters.contentType, ACL: 'public-read', Expires: 600,
    });
    return { statusCode: 200, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify({ signed_url: url }) };
  } catch (error) {
    return { statusCode: 400, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify(error) };
  }
};
"#;

/// What was built: the physical ids a user would name to `import`.
#[derive(Debug, Clone)]
pub struct WriteUp {
    pub bucket: String,
    pub role: String,
    pub wizard_policy_arn: String,
    pub function: String,
    pub api_id: String,
}

/// A zip holding `index.js`, as the console makes it.
fn node_zip() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("index.js", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(APPENDIX_1.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Builds the write-up's stack with names starting `name`.
pub async fn build(name: &str) -> WriteUp {
    let bucket = format!("{name}-photos");
    let s3 = s3().await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // Appendix 3: any origin may PUT and GET with any header.
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    s3.put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(
                    CorsRule::builder()
                        .allowed_origins("*")
                        .allowed_methods("PUT")
                        .allowed_methods("GET")
                        .allowed_headers("*")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // Appendix 2: "This policy make the bucket contents public".
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Id":"Policy1564527997207","Statement":[{{"Sid":"Stmt1564527321604","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();

    // The console's role for a new function, and the wizard's policy on the bucket.
    let iam = iam().await;
    let role = format!("{name}-role-x1y2z3");
    let created = iam
        .create_role()
        .role_name(&role)
        .path("/service-role/")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let role_arn = created.role().unwrap().arn().to_string();
    let policy = iam
        .create_policy()
        .policy_name(format!("{name}-s3-wizard"))
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:ListBucket","s3:PutObjectAcl"],"Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let wizard_policy_arn = policy.policy().unwrap().arn().unwrap().to_string();
    iam.attach_role_policy()
        .role_name(&role)
        .policy_arn(&wizard_policy_arn)
        .send()
        .await
        .unwrap();

    // The Node.js function with Appendix 1's code.
    let function = format!("{name}-getPresignedURL");
    let lambda = lambda().await;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let made = lambda
        .create_function()
        .function_name(&function)
        .runtime(Runtime::Nodejs18x)
        .role(&role_arn)
        .handler("index.handler")
        .environment(Environment::builder().variables("BUCKET", &bucket).build())
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(node_zip()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let function_arn = made.function_arn().unwrap().to_string();

    // "+ Add Trigger, API Gateway": an HTTP API, a Lambda proxy integration and its route.
    let apigw = apigw().await;
    use aws_sdk_apigatewayv2::types::{IntegrationType, ProtocolType};
    let api = apigw
        .create_api()
        .name(format!("{function}-API"))
        .protocol_type(ProtocolType::Http)
        .send()
        .await
        .unwrap();
    let api_id = api.api_id().unwrap().to_string();
    let integration = apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_uri(&function_arn)
        .payload_format_version("2.0")
        .send()
        .await
        .unwrap();
    apigw
        .create_route()
        .api_id(&api_id)
        .route_key(format!("ANY /{function}"))
        .target(format!(
            "integrations/{}",
            integration.integration_id().unwrap()
        ))
        .send()
        .await
        .unwrap();
    apigw
        .create_stage()
        .api_id(&api_id)
        .stage_name("default")
        .auto_deploy(true)
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(&function)
        .statement_id(format!("{function}-apigw"))
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn(format!(
            "arn:aws:execute-api:us-east-1:123456789012:{api_id}/*/*/{function}"
        ))
        .send()
        .await
        .unwrap();
    // The function's first test run in the console made its log group.
    super::logs()
        .await
        .create_log_group()
        .log_group_name(format!("/aws/lambda/{function}"))
        .send()
        .await
        .unwrap();
    WriteUp {
        bucket,
        role,
        wizard_policy_arn,
        function,
        api_id,
    }
}
