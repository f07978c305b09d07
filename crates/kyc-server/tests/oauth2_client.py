#!/usr/bin/env python3
"""A real OAuth2 client library against KYC Desk's token endpoint: Authlib's client-credentials
flow with both client authentication methods (HTTP Basic and form fields), and
requests-oauthlib's BackendApplicationClient. Prints one access token per flow, one per line.

usage: oauth2_client.py TOKEN_URL CA_PEM CLIENT_ID CLIENT_SECRET"""
import sys

from authlib.integrations.requests_client import OAuth2Session
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as OAuthlibSession

url, ca, client_id, client_secret = sys.argv[1:5]

for method in ("client_secret_basic", "client_secret_post"):
    session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method)
    token = session.fetch_token(url, grant_type="client_credentials", verify=ca)
    assert token["token_type"].lower() == "bearer", token
    assert int(token["expires_in"]) > 0, token
    print(token["access_token"])

session = OAuthlibSession(client=BackendApplicationClient(client_id=client_id))
token = session.fetch_token(token_url=url, client_id=client_id, client_secret=client_secret, verify=ca)
print(token["access_token"])

# A wrong secret must fail the way RFC 6749 says (invalid_client).
try:
    OAuth2Session(client_id, "wrong-secret").fetch_token(url, grant_type="client_credentials", verify=ca)
except Exception as e:  # authlib raises OAuthError with the server's error code
    assert "invalid_client" in str(e), e
else:
    raise SystemExit("a wrong secret was accepted")
