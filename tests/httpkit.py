"""Plain HTTP for tests and benches that talk to node processes: a POST answered with JSON, any status."""
from __future__ import annotations

import json
import urllib.error
import urllib.request


def post(url: str, body: bytes | dict, timeout: float = 30.0) -> tuple[int, dict]:
    """POST ``body`` (a dict is sent as JSON, bytes as msgpack) and return (status, JSON answer)."""
    if isinstance(body, dict):
        data, content_type = json.dumps(body).encode(), "application/json"
    else:
        data, content_type = body, "application/octet-stream"
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
