"""workflow.yaml by construction: platform schema, inputs, references, needs, scripts, CLI flags.

Nothing here can reach ACTIVATE, so every way the file could be wrong without running is
checked here; tests/workflow/test_executor.py then runs it for real.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO
from workflow.document import EXPR, input_values, load_workflow, needs_of
from workflow.platform_fakes import Resource

WORKFLOW = REPO / "workflow.yaml"
# The platform's JSON Schema is the platform's, not ours to copy: CI hands its path in
# (.ci/run); a plain clone has none, and then only the schema test is skipped.
SCHEMA_ENV = "MPI_RENDER_WORKFLOW_SCHEMA"
SEED = {"onprem_resource": "pw://user/onprem_resource", "cloud_resource": "pw://user/cloud_cluster",
        "render_settings": {"grid_size": "8", "image_size": "256", "palette": "electric"}}
RESOURCE_FIELDS = ("id", "ip", "name", "schedulerType", "provider")
SCRIPT_RE = re.compile(r"scripts/workflow/[\w.-]+\.sh")
OUTPUT_RE = re.compile(r"""echo\s+"?([A-Za-z0-9_-]+)=[^\n]*>>\s*"?\$OUTPUTS""")
# Which program a command line runs, by its `python -m` module.
PROGRAMS = {"mpi_render": "mpi_render", "mpi_render.launch.relay": "mpi_render.launch.relay",
            "mpi_render.launch.report": "mpi_render.launch.report", "dashboard": "dashboard",
            "mpi_render.launch.clusters": "mpi_render.launch.clusters"}


@pytest.fixture(scope="module")
def workflow():
    return load_workflow(WORKFLOW)


def strings(value):
    """Every string inside a YAML value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def script_text(text: str) -> str:
    """``text`` plus the scripts it names (and common.sh, which they all source)."""
    names = set(SCRIPT_RE.findall(text))
    return text + "".join((REPO / n).read_text() for n in sorted(names) if (REPO / n).exists())


def test_valid_against_the_platform_schema(workflow):
    path = os.environ.get(SCHEMA_ENV)
    if not path:
        pytest.skip(f"{SCHEMA_ENV} is not set: the ACTIVATE workflow schema is the platform's and "
                    f"is not in this repository (CI sets it; set it to the schema's path to run this)")
    import jsonschema

    schema = json.loads(Path(path).read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(workflow),
                    key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors)


def test_on_is_quoted_and_yaml_1_1_traps_are_strings():
    text = WORKFLOW.read_text()
    assert re.search(r'^"on":', text, re.MULTILINE), "quote the on key: YAML 1.1 reads a bare on as true"
    doc = load_workflow(WORKFLOW)
    advanced = doc["on"]["execute"]["inputs"]["advanced"]["items"]
    assert isinstance(advanced["walltime"]["default"], str)  # 00:30:00 unquoted is sexagesimal


def test_inputs_accept_exactly_the_documented_json(workflow):
    spec = workflow["on"]["execute"]["inputs"]
    assert spec["onprem_resource"]["type"] == spec["cloud_resource"]["type"] == "compute-clusters"
    settings = spec["render_settings"]
    assert settings["type"] == "group"
    offered = {name: [o["value"] for o in item["options"]]
               for name, item in settings["items"].items()}
    assert offered == {"grid_size": ["4", "8", "16", "32"], "image_size": ["128", "256", "512"],
                       "palette": ["electric", "fire", "ocean", "cosmic"]}
    for name, field_spec in spec.items():  # anything beyond the seed's keys must have defaults
        if name not in SEED:  # (a list cannot: the schema allows no list default; it is optional)
            items = field_spec.get("items", {name: field_spec})
            assert all("default" in item or (item["type"] == "list" and item.get("optional"))
                       for item in items.values()), name
    resources = {uri: Resource(uri, f"id-{i}", f"host{i}", REPO) for i, uri in
                 enumerate((SEED["onprem_resource"], SEED["cloud_resource"]))}
    values = input_values(spec, SEED, resources)
    assert values["render_settings"] == SEED["render_settings"]
    assert values["cloud_resource"]["ip"] == "host1"
    assert values["advanced"]["ranks_per_site"] >= 1
    # From the web form the resources arrive as objects: taken as they are.
    as_objects = dict(SEED, onprem_resource=resources[SEED["onprem_resource"]].as_input())
    assert input_values(spec, as_objects, resources)["onprem_resource"]["id"] == "id-0"


def test_needs_name_existing_jobs_without_cycles(workflow):
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        for need in needs_of(job):
            assert need in jobs, f"job {name} needs unknown job {need}"
    done: set[str] = set()
    while len(done) < len(jobs):
        ready = {n for n, j in jobs.items() if n not in done and set(needs_of(j)) <= done}
        assert ready, f"needs form a cycle among {set(jobs) - done}"
        done |= ready


def job_outputs(job: dict) -> set[str]:
    """Keys a job writes to $OUTPUTS, from its run steps and the scripts they call."""
    runs = "".join(step.get("run", "") for step in job["steps"])
    return set(OUTPUT_RE.findall(script_text(runs)))


def input_path_exists(spec: dict, path: list[str]) -> bool:
    field_spec = spec.get(path[0])
    if field_spec is None:
        return False
    rest = path[1:]
    if field_spec["type"] == "group":
        return bool(rest) and input_path_exists(field_spec["items"], rest)
    if field_spec["type"] == "compute-clusters":
        return len(rest) <= 1 and (not rest or rest[0] in RESOURCE_FIELDS)
    return not rest


def test_every_reference_resolves(workflow):
    spec = workflow["on"]["execute"]["inputs"]
    outputs = {name: job_outputs(job) for name, job in workflow["jobs"].items()}
    problems = []
    for name, job in workflow["jobs"].items():
        for text in strings(job):
            for expr in EXPR.findall(text):
                head, *path = expr.split(".")
                if head == "inputs":
                    ok = input_path_exists(spec, path)
                elif head == "needs":
                    ok = (len(path) == 3 and path[1] == "outputs" and path[0] in needs_of(job)
                          and path[2] in outputs[path[0]])
                elif head == "sessions":
                    ok = len(path) == 1 and path[0] in workflow.get("sessions", {})
                else:
                    ok = False
                if not ok:
                    problems.append(f"job {name}: ${{{{ {expr} }}}}")
    assert not problems, "unresolved references:\n" + "\n".join(problems)


def test_referenced_scripts_exist_and_are_executable(workflow):
    named = set()
    for text in strings(workflow["jobs"]):
        named |= set(SCRIPT_RE.findall(text))
    for path in (REPO / "scripts" / "workflow").glob("*.sh"):
        named |= set(SCRIPT_RE.findall(path.read_text()))
    assert {"scripts/workflow/prepare.sh", "scripts/workflow/cleanup.sh"} <= named
    for name in sorted(named):
        path = REPO / name
        assert path.is_file() and os.access(path, os.X_OK), f"{name} missing or not executable"
        syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{name}: {syntax.stderr}"


def logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def flags_used() -> dict[str, set[str]]:
    """``{module: flags}`` passed to each of our programs by the workflow and its scripts."""
    used: dict[str, set[str]] = {module: set() for module in PROGRAMS.values()}
    texts = [p.read_text() for p in (REPO / "scripts" / "workflow").glob("*.sh")]
    for line in logical_lines("\n".join(texts)):
        # The last `-m MODULE` of a line is the program (`python -m mpi4py -m mpi_render`);
        # render.sh collects the site job's own flags in the array site_args, serve.sh the
        # serving job's in serve_args.
        found = re.search(r".*-m\s+([\w.]+)\s(.*)", line)
        module, rest = (found.group(1), found.group(2)) if found else (None, "")
        if line.lstrip().startswith(("site_args=(", "serve_args=(")):
            module, rest = "mpi_render", line
        if module in PROGRAMS:
            used[PROGRAMS[module]] |= set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest))
    # render.sh / render-cloud.sh pass everything after `--` on to mpi-render.
    for text in strings(load_workflow(WORKFLOW)["jobs"]):
        if "scripts/workflow/render" in text and " -- " in text:
            used["mpi_render"] |= set(re.findall(r"--[a-z][a-z-]*", text.split(" -- ", 1)[1]))
    return used


@pytest.mark.parametrize("module", sorted(set(PROGRAMS.values())))
def test_flags_in_scripts_exist_in_the_programs_help(module):
    used = flags_used()[module]
    assert used, f"no use of python -m {module} found: the scan is broken"
    helptext = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                              text=True, timeout=60, cwd=REPO).stdout
    missing = sorted(flag for flag in used if flag not in helptext)
    assert not missing, f"python -m {module} has no {missing}\n{helptext}"


def test_serving_flags_reach_the_site_job():
    assert {"--serve", "--idle-exit"} <= flags_used()["mpi_render"]


@pytest.mark.parametrize("minutes, expected", [("0", "serving is off"), ("0.0", "serving is off"),
                                               ("x", "MINUTES must be a number"),
                                               ("-1", "MINUTES must be a number")])
def test_serve_script_without_serving_or_with_bad_minutes(minutes, expected):
    proc = subprocess.run(["bash", str(REPO / "scripts/workflow/serve.sh"), minutes, "render.sh",
                           "/nonexistent"], capture_output=True, text=True, timeout=30)
    assert expected in proc.stdout + proc.stderr, proc
    assert proc.returncode == (0 if expected == "serving is off" else 2), proc


def test_every_started_process_has_a_cleanup(workflow):
    """Steps that start long-lived processes also stop them (cleanup names what they record)."""
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            run = step.get("run", "")
            if any(s in run for s in ("dashboard.sh", "tunnel.sh", "render.sh", "render-cloud.sh")):
                assert "cleanup.sh" in step.get("cleanup", ""), f"job {name} has no cleanup"


def test_the_view_input_offers_every_place_and_every_site_renders_its_flags(workflow):
    from mpi_render.launch.viewflags import CHOICES

    view = workflow["on"]["execute"]["inputs"]["view"]
    assert [o["value"] for o in view["items"]["location"]["options"]] != []
    assert {o["value"] for o in view["items"]["location"]["options"]} == set(CHOICES)
    assert view["items"]["location"]["default"] == "default"  # the seed's picture unchanged
    for job in ("render_onprem", "render_cloud", "render_extra"):
        run_text = workflow["jobs"][job]["steps"][0]["run"]
        assert "${{ needs.prepare_onprem.outputs.view_flags }}" in run_text, job
        assert "--max-iter" not in run_text, job  # the cap comes with the view
