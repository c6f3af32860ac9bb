// Pre-signed URLs made by the AWS SDK for JavaScript v3, for tests/peers.rs: one JSON array on
// stdout, each entry {client, case, method, url, headers} where headers are the ones the signature
// covers (besides host), with the values signed. Usage: node jssdk_urls.mjs CONFIG_JSON (see
// boto3_urls.py). PEERS_NODE names the folder whose node_modules holds the SDK (scripts/peers node).
import { createRequire } from "node:module";

const require = createRequire(`${process.env.PEERS_NODE}/node_modules/`);
const { S3Client, PutObjectCommand, GetObjectCommand } = require("@aws-sdk/client-s3");
const { getSignedUrl } = require("@aws-sdk/s3-request-presigner");

const cfg = JSON.parse(process.argv[2]);
const credentials = { accessKeyId: cfg.access_key, secretAccessKey: cfg.secret };
const client = (options = {}) =>
  new S3Client({ endpoint: cfg.endpoint, region: "us-east-1", forcePathStyle: true, credentials, ...options });
// What a careful user configures: no checksum of an empty body in the URL (aws-sdk-js-v3#6994).
const careful = { requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" };
const HEADERS = {
  ContentType: "content-type",
  ContentLength: "content-length",
  ChecksumSHA256: "x-amz-checksum-sha256",
  ACL: "x-amz-acl",
};

const out = [];
async function add(name, command, params, { options = careful, presign = {} } = {}) {
  const Command = command === "put" ? PutObjectCommand : GetObjectCommand;
  const url = await getSignedUrl(
    client(options),
    new Command({ Bucket: cfg.bucket, ...params }),
    { expiresIn: 300, ...presign },
  );
  const signed = new URL(url).searchParams.get("X-Amz-SignedHeaders").split(";");
  const headers = Object.entries(params)
    .filter(([p]) => HEADERS[p] && signed.includes(HEADERS[p]))
    .map(([p, v]) => [HEADERS[p], String(v)]);
  out.push({ client: "js-sdk-v3", case: name, method: command === "put" ? "PUT" : "GET", url, headers });
}

// The presigner signs only host unless told which headers to sign (signableHeaders), and hoists
// x-amz-* headers into the query unless told not to (unhoistableHeaders).
const signType = { signableHeaders: new Set(["content-type"]) };
await add("put-type", "put", { Key: "uploads/cat.png", ContentType: "image/png" }, { presign: signType });
await add("put-charset", "put", { Key: "uploads/note.txt", ContentType: "text/plain; charset=utf-8" }, { presign: signType });
await add("put-length", "put", { Key: "uploads/sized.png", ContentLength: cfg.body.length });
await add("put-checksum-header", "put", { Key: "uploads/summed.bin", ChecksumSHA256: cfg.sha256 },
  { presign: { unhoistableHeaders: new Set(["x-amz-checksum-sha256"]) } });
await add("put-sdk-defaults", "put", { Key: "uploads/defaults.png", ContentType: "image/png" }, { options: {} });
await add("put-acl-owner", "put", { Key: "uploads/owned.png", ACL: "bucket-owner-full-control" });
await add("put-acl-public", "put", { Key: "uploads/public.png", ACL: "public-read" });
await add("put-percent-key", "put", { Key: "reports/100%.txt" });
await add("put-odd-key", "put", { Key: "uploads/my cat+1 é.png" });
await add("put-wrong-region", "put", { Key: "uploads/far.png" }, { options: { ...careful, region: "eu-west-1" } });
await add("put-expired", "put", { Key: "uploads/late.png" },
  { presign: { expiresIn: 60, signingDate: new Date(Date.now() - 2 * 3600 * 1000) } });
await add("get-plain", "get", { Key: "uploads/cat.png" });
// The SDK's default for downloads: ask S3 to return the stored checksum.
await add("get-checksum-mode", "get", { Key: "uploads/cat.png" }, { options: {} });
await add("put-custom-domain", "put", { Bucket: "https://files.example.com", Key: "uploads/a b.png" },
  { options: { ...careful, endpoint: undefined, bucketEndpoint: true } });
process.stdout.write(JSON.stringify(out));
