"""The OpenAPI 3.0 document of `rtq api` (served at /openapi.json, checked by schemathesis so
the code and the document cannot drift apart); it is made from the route table in
producers/api/document.py."""

from __future__ import annotations

from producers.api.document import OPENAPI

__all__ = ["OPENAPI"]
