"""The settlement token contract: its source text and its genesis name.

``TOKEN_SOURCE`` is read from ``market/contracts/token.py`` (package data),
which is written in the contract language, not imported as Python.
"""

from importlib.resources import files

TOKEN_NAME = "token"
TOKEN_SOURCE: str = files("market").joinpath("contracts", "token.py").read_text(encoding="utf-8")
