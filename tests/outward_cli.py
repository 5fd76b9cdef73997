"""The outward-facing commands on one Typer app, for CliRunner tests, and the JSON shapes of CONTRACTS §4."""

import typer

from killmatrix.commands import audit, check, grade

_COUNT = {"type": "integer", "minimum": 0}

CHECK_SCHEMA = {
    "type": "object",
    "required": ["target", "algorithm", "verdict", "properties", "tiers"],
    "properties": {
        "target": {"type": "string"},
        "algorithm": {"enum": ["flash", "flash_bwd", "beam"]},
        "verdict": {"enum": ["pass", "fail"]},
        "reason": {"type": "string"},
        "properties": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["name", "status", "detail", "tier", "feature"],
            "properties": {"name": {"type": "string"}, "detail": {"type": "string"},
                           "status": {"enum": ["passed", "failed", "error", "timeout", "skipped", "unsupported",
                                               "not_applicable"]},
                           "tier": {"enum": ["correctness", "extension", "hardening", "performance"]},
                           "feature": {"type": ["string", "null"]}},
        }},
        "tiers": {
            "type": "object",
            "required": ["correctness", "extensions", "hardening", "performance"],
            "properties": {
                "correctness": {"type": "object", "required": ["passed", "total"],
                                "properties": {"passed": _COUNT, "total": _COUNT}},
                "extensions": {"type": "object",
                               "additionalProperties": {"enum": ["supported", "unsupported", "fails"]}},
                "hardening": {"type": "object", "required": ["rejected", "total"],
                              "properties": {"rejected": _COUNT, "total": _COUNT}},
                "performance": {"type": "object", "required": ["figures"],
                                "properties": {"figures": {"type": "object"}}},
            },
        },
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
