// The original pattern's handlers, timed: the v2 `aws-sdk` getSignedUrl it was written for,
// and the v3 `@aws-sdk/s3-request-presigner` getSignedUrl that replaces it. Each call is timed
// at the same boundary as the Rust handler: the API Gateway event's JSON text in (JSON.parse, as
// the Node.js runtime does), the response's JSON text out (JSON.stringify). Prints JSON:
// microseconds per call for each. No network: signing is local.
// Usage: node bench.js ITERATIONS EVENT_JSON_FILE
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = "1";
const AWSv2 = require("aws-sdk");
const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");
const { getSignedUrl } = require("@aws-sdk/s3-request-presigner");

const credentials = { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "session-token" };
const s3v2 = new AWSv2.S3({ signatureVersion: "v4", region: "us-east-1", credentials });
const s3v3 = new S3Client({ region: "us-east-1", credentials, requestChecksumCalculation: "WHEN_REQUIRED" });

const eventText = require("fs").readFileSync(process.argv[3], "utf8");

// The handler of ../shared/seeds (Appendix 1) as written, checks and signed ACL included; only
// the bucket name differs. Its flaws (a public-read ACL, a caller-chosen status) are kept here
// because this is what is measured, not what we ship.
function handlerV2(event) {
  try {
    if (!event.queryStringParameters) throw `Missing required parameters "filekey" and "contentType"`;
    if (!event.queryStringParameters.contentType) throw `Missing parameter "contentType" Got ${event.queryStringParameters.contentType}`;
    if (!event.queryStringParameters.filekey) throw `Missing parameter "filekey" Got ${event.queryStringParameters.filekey}`;
    const url = s3v2.getSignedUrl("putObject", {
      Bucket: "uploads-bucket",
      Key: event.queryStringParameters.filekey,
      ContentType: event.queryStringParameters.contentType,
      ACL: "public-read",
      Expires: 600,
    });
    let responseCode = 200;
    if (event.queryStringParameters.httpStatus) responseCode = event.queryStringParameters.httpStatus;
    return { statusCode: responseCode, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify({ signed_url: url }) };
  } catch (error) {
    return { statusCode: 400, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify(error) };
  }
}

// The same handler on the v3 SDK's presigner.
async function handlerV3(event) {
  try {
    if (!event.queryStringParameters) throw `Missing required parameters "filekey" and "contentType"`;
    if (!event.queryStringParameters.contentType) throw `Missing parameter "contentType" Got ${event.queryStringParameters.contentType}`;
    if (!event.queryStringParameters.filekey) throw `Missing parameter "filekey" Got ${event.queryStringParameters.filekey}`;
    const command = new PutObjectCommand({
      Bucket: "uploads-bucket",
      Key: event.queryStringParameters.filekey,
      ContentType: event.queryStringParameters.contentType,
      ACL: "public-read",
    });
    const url = await getSignedUrl(s3v3, command, { expiresIn: 600 });
    let responseCode = 200;
    if (event.queryStringParameters.httpStatus) responseCode = event.queryStringParameters.httpStatus;
    return { statusCode: responseCode, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify({ signed_url: url }) };
  } catch (error) {
    return { statusCode: 400, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify(error) };
  }
}

// Event text in, response text out, as the runtime does around the handler.
async function invoke(fn) {
  return JSON.stringify(await fn(JSON.parse(eventText)));
}

// Microseconds per call of `call`, after a warm-up.
async function time(call, n) {
  for (let i = 0; i < Math.min(n, 500); i++) await call(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

(async () => {
  const n = Number(process.argv[2] || 5000);
  const event = JSON.parse(eventText);
  console.log(JSON.stringify({
    iterations: n,
    // The runtime boundary: event text in, response text out.
    v2_handler_us: await time(() => invoke(handlerV2), n),
    v3_handler_us: await time(() => invoke(handlerV3), n),
    // The function boundary: the parsed event in, the response object out.
    v2_function_us: await time(() => handlerV2(event), n),
    v3_function_us: await time(() => handlerV3(event), n),
  }));
})();
