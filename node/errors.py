"""Errors reported to API clients: a stable code, a message, and an HTTP status."""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


class NodeHalted(Exception):
    """The node stopped itself rather than risk safety (e.g. a refused double-sign)."""
