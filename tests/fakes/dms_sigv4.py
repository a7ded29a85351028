"""dms_sigv4: SigV4 verification of the fake DMS's API requests.

Part of the fake DMS (entry point: tests/fakes/fake_dms.py).  The signature is
recomputed with botocore's own signer over exactly the headers the client
listed in SignedHeaders; SigV4Mixin._verify_signature raises DmsError (403)
with the error type and message AWS would answer.
"""

import datetime
import hashlib
import hmac

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from dms_model import SERVICE, DmsError


class _Verifier(SigV4Auth):
    """SigV4Auth that signs exactly the headers the client listed."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        header_map = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                header_map[name] = value
        return header_map


class SigV4Mixin:
    """FakeDMS's authentication (needs self._creds, self.region, self.host and
    self.max_skew_seconds)."""

    def _verify_signature(self, h, body):
        auth = h.headers.get("Authorization")
        if not auth:
            raise DmsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise DmsError("IncompleteSignatureException",
                           "Authorization header must use the AWS4-HMAC-SHA256 algorithm", 403)
        fields = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                fields[k.strip()] = v.strip()
        for need in ("Credential", "SignedHeaders", "Signature"):
            if not fields.get(need):
                raise DmsError("IncompleteSignatureException",
                               f"Authorization header requires '{need}' parameter. Authorization={auth}", 403)
        scope = fields["Credential"].split("/")
        if len(scope) != 5:
            raise DmsError("IncompleteSignatureException",
                           f"Credential must have exactly 5 slash-delimited elements, e.g. "
                           f"keyid/date/region/service/term, got '{fields['Credential']}'", 403)
        akid, sdate, sregion, sservice, sterm = scope
        if akid not in self._creds:
            raise DmsError("UnrecognizedClientException", "The security token included in the request is invalid.",
                           403)
        secret, token = self._creds[akid]
        amz_date = h.headers.get("X-Amz-Date")
        if not amz_date:
            raise DmsError("IncompleteSignatureException", "Authorization header requires existence of "
                           "either a 'X-Amz-Date' or a 'Date' header (fake_dms supports X-Amz-Date only).", 403)
        try:
            req_time = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            raise DmsError("IncompleteSignatureException", f"Invalid X-Amz-Date '{amz_date}'", 403)
        now = datetime.datetime.now(datetime.timezone.utc)
        skew = (req_time - now).total_seconds()
        fmt = "%Y%m%dT%H%M%SZ"
        if skew < -self.max_skew_seconds:
            raise DmsError("InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier than "
                           f"{(now - datetime.timedelta(seconds=self.max_skew_seconds)).strftime(fmt)} "
                           f"({now.strftime(fmt)} - {self.max_skew_seconds / 60:g} min.)", 403)
        if skew > self.max_skew_seconds:
            raise DmsError("InvalidSignatureException",
                           f"Signature not yet current: {amz_date} is still later than "
                           f"{(now + datetime.timedelta(seconds=self.max_skew_seconds)).strftime(fmt)} "
                           f"({now.strftime(fmt)} + {self.max_skew_seconds / 60:g} min.)", 403)
        if sdate != amz_date[:8]:
            raise DmsError("InvalidSignatureException",
                           f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                           f"from HTTP: '{sdate}' != '{amz_date[:8]}', from '{amz_date}'.", 403)
        if sregion != self.region:
            raise DmsError("InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{sregion}'.", 403)
        if sservice != SERVICE:
            raise DmsError("InvalidSignatureException",
                           f"Credential should be scoped to correct service: '{SERVICE}'.", 403)
        if sterm != "aws4_request":
            raise DmsError("InvalidSignatureException",
                           f"Credential should be scoped with a valid terminator: 'aws4_request', not '{sterm}'.",
                           403)
        sent_token = h.headers.get("X-Amz-Security-Token")
        if (token or sent_token) and not (token and sent_token and hmac.compare_digest(token, sent_token)):
            raise DmsError("UnrecognizedClientException",
                           "The security token included in the request is invalid.", 403)
        signed = [s.strip().lower() for s in fields["SignedHeaders"].split(";") if s.strip()]
        if signed != sorted(set(signed)):
            raise DmsError("InvalidSignatureException", "SignedHeaders must be sorted, lower case and unique.",
                           403)
        if "host" not in signed:
            raise DmsError("InvalidSignatureException",
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", 403)
        if "x-amz-date" not in signed:
            raise DmsError("InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS "
                           "Authorization (fake_dms requires it).", 403)
        if sent_token and "x-amz-security-token" not in signed:
            raise DmsError("InvalidSignatureException",
                           "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.", 403)
        for name in signed:
            if h.headers.get(name) is None:
                raise DmsError("InvalidSignatureException", f"Signed header '{name}' is missing from the request.",
                               403)
        content_sha = h.headers.get("X-Amz-Content-SHA256")
        if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
            raise DmsError("InvalidSignatureException",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.", 403)
        headers = HTTPHeaders()
        for name, value in h.headers.items():
            if name.lower() in signed:
                headers[name.lower()] = value
        req = AWSRequest(method=h.command, url="http://" + h.headers.get("Host", self.host) + h.path,
                         data=body, headers=headers)
        req.context["timestamp"] = amz_date
        verifier = _Verifier(Credentials(akid, secret, token), SERVICE, self.region, signed)
        canonical = verifier.canonical_request(req)
        expected = verifier.signature(verifier.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise DmsError("InvalidSignatureException",
                           "The request signature we calculated does not match the signature you provided. "
                           "Check your AWS Secret Access Key and signing method. Consult the service "
                           "documentation for details.\n\nThe Canonical String for this request should have been\n'"
                           + canonical + "'\n", 403)
