"""One shape for every 4xx caused by bad input: ``{"detail": [{"field", "msg", "type"}], "message"}``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse


@dataclass
class Problem:
    field: str  # dotted path in the body, e.g. "items.3.text", or a query parameter's name
    msg: str
    type: str = "value_error"
    location: str = "body"  # where the field is: body, query, path or header (the first part of "loc")


class InputError(Exception):
    """Raised by handlers for input that passed the schema but breaks a configured rule."""

    def __init__(self, problems: list[Problem], status_code: int = 422):
        self.problems, self.status_code = problems, status_code
        super().__init__("; ".join(f"{p.field}: {p.msg}" for p in problems))


def problems_response(problems: list[Problem], status_code: int = 422) -> JSONResponse:
    # "loc" keeps FastAPI's documented ValidationError shape; "field" is the readable form.
    detail = [{"loc": _loc(p.field, p.location), "field": p.field, "msg": p.msg, "type": p.type} for p in problems]
    message = "; ".join(f"{p.field}: {p.msg}" for p in problems)
    return JSONResponse({"detail": detail, "message": message}, status_code=status_code)


def _loc(field: str, location: str = "body") -> list[str | int]:
    return [location, *(int(part) if part.isdigit() else part for part in field.split("."))]


async def input_error_handler(request: Request, exc: InputError) -> JSONResponse:
    return problems_response(exc.problems, exc.status_code)


def _message(description: str) -> dict:
    schema = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


AUTH_RESPONSES = {401: _message("Missing or invalid API key")}
NOT_READY_RESPONSES = {503: _message("Models are not loaded (the reason is in `detail`)")}
RELOAD_RESPONSES = {409: _message("Reload failed; the previous models keep serving")}
