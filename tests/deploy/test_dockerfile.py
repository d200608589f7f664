"""The one Dockerfile: slim, non-root, no dev dependencies, dependencies in a cached layer."""

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


Stage = list[Instruction]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults, then each stage's instructions, FROM first."""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        instruction = Instruction(keyword.upper(), " ".join(rest.split()))
        if instruction.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
        elif instruction.keyword == "ARG":
            name, _, default = instruction.arguments.partition("=")
            arguments[name] = default
    return arguments, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def stages(dockerfile: tuple[dict[str, str], list[Stage]]) -> list[Stage]:
    return dockerfile[1]


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def uv_syncs(stage: Stage) -> list[Instruction]:
    return [i for i in stage if i.keyword == "RUN" and "uv sync" in i.arguments]


def test_every_stage_builds_on_python_311_slim(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    arguments, stages = dockerfile
    assert len(stages) >= 2, "multi-stage: the build tools stay out of the runtime image"
    for stage in stages:
        base = stage[0].arguments.split()[0]
        base = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], base)
        assert base == "python:3.11-slim"


def test_uv_comes_from_pypi(stages: list[Stage]) -> None:
    [builder] = [stage for stage in stages if uv_syncs(stage)]
    assert any(
        i.keyword == "RUN" and re.search(r"pip install .*\buv\b", i.arguments) for i in builder
    )


def test_dependencies_are_installed_before_the_source_is_copied(stages: list[Stage]) -> None:
    [builder] = [stage for stage in stages if uv_syncs(stage)]
    dependencies, project = uv_syncs(builder)
    assert "--no-install-project" in dependencies.arguments
    assert "--no-install-project" not in project.arguments
    copies = [i for i in builder if i.keyword == "COPY"]
    before = [i for i in copies if builder.index(i) < builder.index(dependencies)]
    # Only the lock's inputs come first, so a source edit keeps the dependency layer cached.
    assert [i.arguments.split()[:-1] for i in before] == [["pyproject.toml", "uv.lock"]]
    [source] = [i for i in copies if i not in before]
    assert source.arguments.split()[0] == "."
    assert builder.index(dependencies) < builder.index(source) < builder.index(project)


def test_no_dev_dependencies_and_exactly_the_lock(stages: list[Stage]) -> None:
    syncs = [sync for stage in stages for sync in uv_syncs(stage)]
    assert syncs
    for sync in syncs:
        assert "--no-dev" in sync.arguments.split()
        assert "--frozen" in sync.arguments.split()


def test_the_runtime_runs_as_a_user_it_creates_not_root(runtime: Stage) -> None:
    users = [i.arguments.split(":")[0] for i in runtime if i.keyword == "USER"]
    assert users, "the runtime stage sets no USER, so it runs as root"
    assert users[-1] not in {"root", "0"}
    assert any(
        i.keyword == "RUN" and re.search(rf"useradd .*\b{users[-1]}$", i.arguments) for i in runtime
    )


def test_the_runtime_holds_the_venv_and_no_build_tools(runtime: Stage) -> None:
    copies = [i.arguments for i in runtime if i.keyword == "COPY"]
    assert copies
    assert all(copy.startswith("--from=") for copy in copies)
    assert not any(i.keyword == "RUN" and "pip install" in i.arguments for i in runtime)


def test_the_runtime_logs_unbuffered_and_finds_the_venv_first(runtime: Stage) -> None:
    environment = " ".join(i.arguments for i in runtime if i.keyword == "ENV").split()
    assert "PYTHONUNBUFFERED=1" in environment
    assert any(re.fullmatch(r'PATH="?/app/\.venv/bin:.*', pair) for pair in environment)


def test_dockerignore_keeps_local_state_out_and_the_package_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", ".esdata", ".env"} <= set(patterns)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    # The project install needs its metadata, its readme and every package of the wheel.
    needed = ["pyproject.toml", "uv.lock", "README.md", *(f"{p}/__init__.py" for p in packages)]
    for path in needed:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path
        assert not any(path.startswith(pattern.rstrip("/") + "/") for pattern in patterns), path
