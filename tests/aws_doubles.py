"""AWS for tests: a fake credential environment, and SigV4 verified independently of botocore.

:func:`aws_environment` is what botocore's default credential chain finds in
tests: keys generated per test run, no shared config files, no instance
metadata (so no test ever reaches a developer's real AWS account or waits on
169.254.169.254). :func:`sigv4_signature` recomputes a request's Signature
Version 4 from what was actually sent (the AWS reference algorithm, written
out here only to verify botocore's, never used to sign).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote

import httpx

__all__ = ["aws_environment", "sigv4_signature"]


def aws_environment(*, session_token: bool = False) -> dict[str, str]:
    """Environment variables giving botocore fresh fake keys and nothing else to find."""
    env = {
        "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if session_token:
        env["AWS_SESSION_TOKEN"] = "FwoG" + secrets.token_urlsafe(60)
    return env


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_signature(
    request: httpx.Request, *, secret_key: str, region: str, service: str
) -> tuple[str, str]:
    """``(signed_headers, signature)`` recomputed for ``request`` as received.

    The signed header list is taken from its ``Authorization`` header; their
    values, the method, path, query and the body are the request's own.
    """
    fields = dict(
        part.strip().split("=", 1)
        for part in request.headers["Authorization"].split(" ", 1)[1].split(",")
    )
    signed = fields["SignedHeaders"]
    stamp = request.headers["X-Amz-Date"]
    day = stamp[:8]
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(request.url.params.multi_items())
    )
    canonical_headers = "".join(
        f"{name}:{' '.join(request.headers[name].split())}\n" for name in signed.split(";")
    )
    canonical = "\n".join(
        [
            request.method,
            quote(request.url.path, safe="/-_.~"),
            query,
            canonical_headers,
            signed,
            hashlib.sha256(request.content).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request"
    )
    return signed, hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
