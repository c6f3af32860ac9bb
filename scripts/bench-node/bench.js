// The original pattern's handlers, timed: the v2 `aws-sdk` getSignedUrl it was written for,
// and the v3 `@aws-sdk/s3-request-presigner` getSignedUrl that replaces it. Prints JSON:
// microseconds per handler call for each. No network: signing is local.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = "1";
const AWSv2 = require("aws-sdk");
const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");
const { getSignedUrl } = require("@aws-sdk/s3-request-presigner");

const credentials = { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "session-token" };
const s3v2 = new AWSv2.S3({ signatureVersion: "v4", region: "us-east-1", credentials });
const s3v3 = new S3Client({ region: "us-east-1", credentials, requestChecksumCalculation: "WHEN_REQUIRED" });

const event = { queryStringParameters: { filekey: "cat.jpg", contentType: "image/jpeg" } };

function handlerV2(event) {
  const q = event.queryStringParameters;
  const url = s3v2.getSignedUrl("putObject", { Bucket: "uploads-bucket", Key: q.filekey, ContentType: q.contentType, Expires: 300 });
  return { statusCode: 200, headers: { "Access-Control-Allow-Origin": "*" }, body: JSON.stringify({ signed_url: url }) };
}

async function handlerV3(event) {
  const q = event.queryStringParameters;
  const url = await getSignedUrl(s3v3, new PutObjectCommand({ Bucket: "uploads-bucket", Key: q.filekey, ContentType: q.contentType }), { expiresIn: 300 });
  return { statusCode: 200, body: JSON.stringify({ signed_url: url }) };
}

async function time(fn, n) {
  for (let i = 0; i < Math.min(n, 500); i++) await fn(event); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(event);
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

(async () => {
  const n = Number(process.argv[2] || 5000);
  const v2 = await time(handlerV2, n);
  const v3 = await time(handlerV3, n);
  console.log(JSON.stringify({ iterations: n, v2_handler_us: v2, v3_handler_us: v3 }));
})();
