"""The OpenAPI document says what the API really answers.

FastAPI documents only the success and its own 422 shape; central answers every error as
``{"detail", "status"[, "errors"]}`` (``central.errors``) and may answer 400, 401, 403, 404,
409 or 429 by rule. ``refine`` adds those to every operation they apply to, replaces the 422 schema
with ours, and lists the other media types a report read serves (``format=html|pdf|csv``), so a
client (and the schemathesis test) can trust the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail", "status"],
    "properties": {
        "detail": {"type": "string", "description": "what went wrong, in plain words"},
        "status": {"type": "integer"},
        "errors": {
            "type": "array",
            "description": "422 only: each invalid field and its problem",
            "items": {"type": "object", "required": ["where", "problem"],
                      "properties": {"where": {"type": "string"}, "problem": {"type": "string"}}},
        },
    },
}

DESCRIPTIONS = {
    "400": "the body cannot be parsed (not UTF-8 JSON or form data)",
    "401": "not signed in, or the token is invalid, expired or revoked",
    "403": "the signed-in role may not do this (or a dashboard change lacks its CSRF header)",
    "404": "no such resource",
    "409": "conflicts with the resource's current state (already exists, wrong state, retired)",
    "422": "invalid request: each invalid field is named in errors",
    "429": "too many failed sign-ins: wait Retry-After seconds",
}

#: operations anyone may call without credentials, and that never answer 401
OPEN = {("get", "/healthz"), ("post", "/api/v1/auth/logout")}
#: sign-in: throttled
SIGN_IN = {("post", "/api/v1/auth/token"), ("post", "/api/v1/auth/session")}
#: media types of a report read by its ``format`` value
FORMAT_MEDIA = {"html": "text/html", "csv": "text/csv", "pdf": "application/pdf"}
#: operations that answer a file
FILES = {("get", "/api/v1/recordings/{recording_id}/file"): "application/octet-stream"}


def _error(code: str) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR_REF}}}


def _format_values(operation: dict[str, Any]) -> list[str]:
    for param in operation.get("parameters", []):
        if param.get("name") == "format" and param.get("in") == "query":
            schema = param.get("schema", {})
            return [str(v) for v in schema.get("enum", [])]
    return []


#: query parameters that name a site, device or meeting (unknown ones are a 404)
RESOURCE_QUERIES = {"site", "sites", "device", "meeting"}


def _names_resources(operation: dict[str, Any]) -> bool:
    return any(p.get("in") == "query" and p.get("name") in RESOURCE_QUERIES
               for p in operation.get("parameters", []))


def refine(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            key = (method, path)
            codes = ["422"]
            if "requestBody" in operation:
                codes.append("400")
            if key not in OPEN and "401" not in responses:
                codes.append("401")
            if operation.get("security"):
                codes.append("403")
            if "{" in path or _names_resources(operation):
                codes.append("404")
            if method in ("post", "put", "patch", "delete"):
                codes.append("409")
            if key in SIGN_IN:
                codes.append("429")
            for code in codes:
                documented = responses.get(code)
                if documented is None or code == "422":
                    responses[code] = _error(code)
                elif "content" not in documented:
                    documented["content"] = {"application/json": {"schema": ERROR_REF}}
            ok = next((c for c in ("200", "201", "202") if c in responses), None)
            formats = [f for f in _format_values(operation) if f in FORMAT_MEDIA]
            if ok is not None and formats:
                content = responses[ok].setdefault("content", {})
                for fmt in formats:
                    content.setdefault(FORMAT_MEDIA[fmt], {"schema": {"type": "string"}})
            if key in FILES and ok is not None:
                responses[ok]["content"] = {FILES[key]: {"schema": {"type": "string", "format": "binary"}}}
    return document


def install(app: FastAPI) -> None:
    """``app.openapi()`` builds the refined document once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes, tags=app.openapi_tags, servers=app.servers)
            app.openapi_schema = refine(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
