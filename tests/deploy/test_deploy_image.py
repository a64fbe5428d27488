"""The Dockerfile: multi-stage, non-root, and the package it installs holds every migration."""
import re
import subprocess
import sys

from deploy_support import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def instructions():
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    return [line.split(None, 1) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_it_builds_in_one_stage_and_runs_in_another_as_a_non_root_user():
    stages = [args for op, args in instructions() if op == "FROM"]
    assert len(stages) >= 2 and " AS " in stages[0].upper()
    final = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    user = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert user and user[-1].split(":")[0].isdigit() and int(user[-1].split(":")[0]) > 0
    assert "COPY --from=build /opt/hub /opt/hub" in final
    assert not re.search(r"^RUN .*pip install", final, re.M)   # no build tools in the image


def test_everything_it_copies_is_in_the_build_context():
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for op, args in instructions():
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), source
                assert any(source == a or source.startswith(a + "/") for a in allowed), \
                    f"{source} is excluded by .dockerignore"


def test_the_installed_package_carries_every_migration_and_data_file(tmp_path):
    """What `pip install .` in the build stage puts in the image: setuptools' build of the
    packages with their package data (pyproject.toml), made here the same way."""
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                    "build_py", "--build-lib", str(tmp_path)],
                   check=True, capture_output=True, cwd=REPO)
    packaged = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    wanted = {str(p.relative_to(REPO / "services"))
              for pattern in ("*/migrations/*.sql", "*/*.yaml")
              for p in (REPO / "services").glob(pattern)}
    assert wanted and wanted <= packaged, sorted(wanted - packaged)
