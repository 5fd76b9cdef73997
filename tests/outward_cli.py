"""The outward-facing commands on one Typer app, for CliRunner tests, and the JSON shapes of CONTRACTS §4."""

import typer

from killmatrix.commands import audit, check, grade

CHECK_SCHEMA = {
    "type": "object",
    "required": ["target", "algorithm", "verdict", "properties"],
    "properties": {
        "target": {"type": "string"},
        "algorithm": {"enum": ["flash", "beam"]},
        "verdict": {"enum": ["pass", "fail"]},
        "properties": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["name", "status", "detail"],
            "properties": {"name": {"type": "string"}, "detail": {"type": "string"},
                           "status": {"enum": ["passed", "failed", "error", "timeout", "skipped"]}},
        }},
    },
}

AUDIT_SCHEMA = {
    "type": "object",
    "required": ["mutants", "killed", "total"],
    "properties": {
        "killed": {"type": "integer", "minimum": 0},
        "total": {"type": "integer", "minimum": 0},
        "mutants": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "algorithm", "status", "killed_by"],
            "properties": {"id": {"type": "string"}, "algorithm": {"type": "string"},
                           "status": {"enum": ["killed", "survived", "timeout", "error", "equivalent"]},
                           "killed_by": {"type": "array", "items": {"type": "string"}}},
        }},
    },
}


def outward_app() -> typer.Typer:
    app = typer.Typer()
    for module in (audit, check, grade):
        module.register(app)
    return app
