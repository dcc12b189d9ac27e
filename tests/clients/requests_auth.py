"""A document request through python-requests' own HTTP auth handlers, as an integrator's
script would make it. Prints JSON: {"status", "location", "body_hex"} where body_hex is the
document fetched from the handle (when the gateway answered 303).

    python3 tests/clients/requests_auth.py basic|digest URL USER PASSWORD
"""

import json
import sys

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth


def main() -> None:
    scheme, url, user, password = sys.argv[1:5]
    auth = HTTPBasicAuth(user, password) if scheme == "basic" else HTTPDigestAuth(user, password)
    response = requests.get(url, auth=auth, allow_redirects=False, timeout=30)
    result = {"status": response.status_code, "location": response.headers.get("location")}
    if response.status_code == 303:
        document = requests.get(response.headers["location"], timeout=30)
        result["document_status"] = document.status_code
        result["body_hex"] = document.content.hex()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
