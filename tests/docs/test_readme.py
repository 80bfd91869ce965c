"""The README must not drift from the code: Quick start, every CLI flag, linked files."""
import re
import sys

from support import REPO, run

README = (REPO / "README.md").read_text()


COMMANDS = {"mpi-render": "mpi_render", "mpi-render-dashboard": "dashboard",
            "mpi-render-demo": "mpi_render.launch.demo"}


def _help_flags(module: str) -> set[str]:
    """The long flags a command's ``--help`` lists."""
    text = run([sys.executable, "-m", module, "--help"], timeout=60).stdout
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text)) - {"--help"}


def test_quick_start_has_exactly_the_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_every_flag_of_every_command_is_in_the_configuration_reference():
    reference = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    for command, module in COMMANDS.items():
        section = reference.split(f"**`{command}`**", 1)[1].split("**`", 1)[0]
        flags = _help_flags(module)
        assert len(flags) >= 6, f"{command} --help lists too few flags: {flags}"
        for flag in flags:
            assert f"`{flag}" in section, f"README reference of {command} lacks {flag}"


def test_linked_files_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        assert (REPO / target).exists(), f"README links to missing {target}"
