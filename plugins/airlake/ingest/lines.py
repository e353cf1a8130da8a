"""One record, one line: how message and stream payloads become JSON Lines in the raw zone."""

from __future__ import annotations

import json
import re

_JSON_STRING_OR_BLANKS = re.compile(r'"(?:[^"\\]|\\.)*"|[ \t\r\n]+')


def one_line(payload: bytes) -> bytes:
    """One record as exactly one non-empty line of bytes.

    A payload without a line break is kept byte for byte, malformed or not. One with a line break is,
    if it is valid UTF-8 JSON, compacted: whitespace outside strings is dropped, so keys, order and
    number spellings stay as sent. Anything else (and the empty payload) becomes a JSON string; bytes
    that are not UTF-8 are kept as ``\\udcXX`` escapes (``surrogateescape``), so nothing is lost.
    """
    if payload and b"\n" not in payload and b"\r" not in payload:
        return payload
    try:
        text = payload.decode("utf-8")
        json.loads(text)  # strict: a raw line break inside a JSON string is invalid
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return json.dumps(payload.decode("utf-8", errors="surrogateescape")).encode("ascii")
    return _JSON_STRING_OR_BLANKS.sub(_keep_strings, text).encode("utf-8")


def _keep_strings(match: re.Match[str]) -> str:
    token = match.group(0)
    return token if token.startswith('"') else ""
