"""The workflow document as the ACTIVATE runner reads it: ``workflow.yaml``, its inputs and its
``${{ ... }}`` expressions (the stand-in runner is :mod:`workflow.executor`).

Inputs get their defaults (inside groups and in each item of a ``list`` input, after its
``template``), and ``pw://user/NAME`` resources become resource objects
(:class:`workflow.platform_fakes.Resource`). ``${{ inputs.* }}``, ``${{ needs.JOB.outputs.* }}``
and ``${{ sessions.* }}`` are substituted; an unknown reference is an error, never an empty
string; a whole list or object becomes its JSON text and an absent optional input an empty
string: an assumption about the platform that the workflow's scripts are written to accept
either way.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load_workflow(path: Path) -> dict:
    """The workflow document; ``"on"`` must be a string key (quoted in the file)."""
    doc = yaml.safe_load(Path(path).read_text())
    if True in doc:
        raise ValueError("workflow.yaml has a bare `on:` key (YAML 1.1 reads it as true)")
    return doc


def input_values(spec: dict, given: dict, resources: dict) -> dict:
    """Inputs as jobs see them: defaults filled in (inside groups too), resources resolved
    (``resources``: ``{uri: Resource}``, each with ``as_input()``)."""
    values = {}
    for name, field_spec in spec.items():
        value = given.get(name, field_spec.get("default"))
        if field_spec["type"] == "group":
            value = input_values(field_spec["items"], value or {}, resources)
        elif field_spec["type"] == "list" and value is not None:
            template = field_spec["template"]
            value = [input_values(template["items"], item, resources)
                     if template.get("type") == "group" else item for item in value]
        elif field_spec["type"] == "compute-clusters" and isinstance(value, str):
            value = resources[value].as_input()
        values[name] = value
    unknown = set(given) - set(spec)
    if unknown:
        raise ValueError(f"inputs not declared by the workflow: {sorted(unknown)}")
    return values


def evaluate(expr: str, context: dict):
    """Value of a dotted reference such as ``needs.prepare.outputs.port`` (KeyError if absent)."""
    value = context
    for part in expr.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"${{{{ {expr} }}}} does not resolve (no {part!r})")
        value = value[part]
    return value


def substitute(value, context: dict):
    """``value`` with every ``${{ ... }}`` replaced (recursively through lists and dicts)."""
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if isinstance(value, str):
        return EXPR.sub(lambda m: _text(evaluate(m.group(1), context)), value)
    return value


def _text(value) -> str:
    """How a substituted value reads in a step: objects and lists as JSON, absent as empty."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)
