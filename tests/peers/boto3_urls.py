"""Pre-signed URLs made by boto3, for tests/peers.rs: one JSON array on stdout, each entry
{"client", "case", "method", "url", "headers"} where headers are the ones the signature covers
(besides host), with the values boto3 signed. Usage: boto3_urls.py CONFIG_JSON, where the config
has endpoint, bucket, access_key, secret, body (the upload's text), sha256 (its base64 digest)."""
import json
import sys
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config

cfg = json.loads(sys.argv[1])


def client(region="us-east-1"):
    return boto3.client(
        "s3",
        endpoint_url=cfg["endpoint"],
        region_name=region,
        aws_access_key_id=cfg["access_key"],
        aws_secret_access_key=cfg["secret"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


# The header each parameter becomes, for the list of what must be sent.
HEADERS = {
    "ContentType": "content-type",
    "ContentLength": "content-length",
    "ChecksumSHA256": "x-amz-checksum-sha256",
    "ACL": "x-amz-acl",
    "ChecksumMode": "x-amz-checksum-mode",
}

out = []


def case(name, operation, key, region="us-east-1", **params):
    method = "PUT" if operation == "put_object" else "GET"
    url = client(region).generate_presigned_url(
        operation, Params={"Bucket": cfg["bucket"], "Key": key, **params}, ExpiresIn=300
    )
    signed = parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")
    headers = [[HEADERS[p], str(v)] for p, v in params.items() if HEADERS[p] in signed]
    out.append({"client": "boto3", "case": name, "method": method, "url": url, "headers": headers})


body = cfg["body"]
case("put-type", "put_object", "uploads/cat.png", ContentType="image/png")
case("put-charset", "put_object", "uploads/note.txt", ContentType="text/plain; charset=utf-8")
case("put-length", "put_object", "uploads/sized.png", ContentType="image/png", ContentLength=len(body))
case("put-checksum-header", "put_object", "uploads/summed.bin", ChecksumSHA256=cfg["sha256"])
case("put-acl-owner", "put_object", "uploads/owned.png", ACL="bucket-owner-full-control")
case("put-acl-public", "put_object", "uploads/public.png", ACL="public-read")
case("put-percent-key", "put_object", "reports/100%.txt")
case("put-odd-key", "put_object", "uploads/my cat+1 é.png")
case("put-wrong-region", "put_object", "uploads/far.png", region="eu-west-1")
case("get-plain", "get_object", "uploads/cat.png")
case("get-checksum-mode", "get_object", "uploads/cat.png", ChecksumMode="ENABLED")
json.dump(out, sys.stdout)
