#!/usr/bin/env python3
"""Python `requests` as a sender that writes its whole body before it reads the answer (as Java's
HttpClient, which Ditto ID runs, does): posts a 5 MB body that the receiver refuses before reading
it, and prints the status and the JSON error code, or the exception it got instead.

usage: refusal_client.py URL CA_PEM CONTENT_TYPE AUTHORIZATION"""
import sys

import requests

url, ca, content_type, authorization = sys.argv[1:5]
body = b"x" * (5 * 1024 * 1024)
try:
    r = requests.post(
        url,
        data=body,
        headers={"Content-Type": content_type, "Authorization": authorization},
        verify=ca,
        timeout=60,
    )
    print(r.status_code, r.json().get("error"))
except Exception as e:  # a broken pipe or a reset: the refusal never reached the sender
    print("failed", type(e).__name__)
