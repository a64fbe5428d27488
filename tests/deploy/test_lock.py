"""The locked dependencies (requirements/*.txt, written by `make lock`): in step with
pyproject.toml's pins, every package at one version with its hashes, and every install of the
hub (Makefile, Dockerfile, deploy/systemd/INSTALL.md) going through them. No network: the lock
files are read, and compared with pyproject.toml and with the virtualenv running these tests."""
import re
import tomllib
from importlib import metadata

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from deploy_support import REPO

REQS = REPO / "requirements"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
THE_HUB = f"{PROJECT['name']} (pyproject.toml)"   # how the lock names a pin of pyproject.toml
REGENERATE = "stale: run `make lock` (and commit requirements/)"


def parse_lock(path):
    """{name: entry} of a `uv pip compile --generate-hashes` file; an entry has the version,
    the marker (or None), the hashes and what the package is there for (`# via`)."""
    entries, entry, in_via = {}, None, False
    for line in path.read_text().splitlines():
        if not line.strip() or (line.startswith("#") and entry is None):
            continue
        if not line.startswith((" ", "#")):
            spec, _, marker = line.rstrip(" \\").partition(";")
            name, sep, version = spec.strip().partition("==")
            assert sep, f"{path.name}: {line!r} is not pinned with =="
            entry = {"version": version.strip(), "marker": marker.strip() or None,
                     "hashes": [], "via": []}
            entries[canonicalize_name(name)] = entry
            in_via = False
            continue
        text = line.strip().rstrip("\\").strip()
        if text.startswith("--hash="):
            entry["hashes"].append(text.split("=", 1)[1])
        elif text.startswith("# via"):
            rest = text[len("# via"):].strip()
            entry["via"] += [rest] if rest else []
            in_via = not rest
        elif in_via and text.startswith("#   "):
            entry["via"].append(text[4:].strip())
        else:
            raise AssertionError(f"{path.name}: unexpected line {line!r}")
    return entries


LOCKS = {name: parse_lock(REQS / f"{name}.txt")
         for name in ("lock-tool", "build", "runtime", "test")}


def pins(requirements):
    """{name: (version, extras)} of pyproject.toml's requirements, every one pinned with ==."""
    pinned = {}
    for text in requirements:
        requirement = Requirement(text)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", \
            f"pyproject.toml pins every dependency with ==: {text}"
        pinned[canonicalize_name(requirement.name)] = (specifiers[0].version, requirement.extras)
    return pinned


RUNTIME_PINS = pins(PROJECT["dependencies"])
TEST_PINS = pins(PROJECT["optional-dependencies"]["test"])


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_locked_package_has_one_version_and_its_hashes(lock):
    assert LOCKS[lock], f"requirements/{lock}.txt is empty"
    for name, entry in LOCKS[lock].items():
        assert Version(entry["version"]), name
        assert entry["hashes"], f"requirements/{lock}.txt: {name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in entry["hashes"]), name


@pytest.mark.parametrize("lock,wanted", [("runtime", RUNTIME_PINS),
                                         ("test", {**RUNTIME_PINS, **TEST_PINS})])
def test_every_pin_of_pyproject_is_locked_at_its_version(lock, wanted):
    locked = LOCKS[lock]
    for name, (version, _) in wanted.items():
        assert name in locked, f"{name} is pinned in pyproject.toml, not in requirements/{lock}.txt: {REGENERATE}"
        assert locked[name]["version"] == version, \
            f"pyproject.toml pins {name}=={version}, requirements/{lock}.txt has " \
            f"{locked[name]['version']}: {REGENERATE}"
        assert THE_HUB in locked[name]["via"], f"{name}: {REGENERATE}"


@pytest.mark.parametrize("lock,wanted", [("runtime", RUNTIME_PINS),
                                         ("test", {**RUNTIME_PINS, **TEST_PINS})])
def test_the_lock_holds_no_pin_pyproject_dropped(lock, wanted):
    direct = {name for name, entry in LOCKS[lock].items() if THE_HUB in entry["via"]}
    dropped = direct - set(wanted)
    assert not dropped, f"requirements/{lock}.txt still holds {sorted(dropped)} for pyproject.toml: {REGENERATE}"
    # a package nothing needs any more
    orphans = [name for name, entry in LOCKS[lock].items() if not entry["via"]]
    assert not orphans, f"requirements/{lock}.txt: {orphans}"


def test_the_tests_run_the_versions_production_runs():
    """test.txt is runtime.txt plus the test extras: nothing of the runtime at another version."""
    runtime, test = LOCKS["runtime"], LOCKS["test"]
    for name, entry in runtime.items():
        assert name in test and test[name]["version"] == entry["version"], f"{name}: {REGENERATE}"


def test_the_build_lock_holds_what_builds_the_hub():
    build_requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    listed = {canonicalize_name(Requirement(line).name): Requirement(line)
              for line in (REQS / "build.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    for requirement in build_requires:
        name = canonicalize_name(requirement.name)
        assert listed.get(name) == requirement, \
            f"requirements/build.in lists {requirement} of pyproject.toml's [build-system]"
        assert requirement.specifier.contains(LOCKS["build"][name]["version"]), REGENERATE
    assert "pip" in LOCKS["build"] and "uv" in LOCKS["lock-tool"]


def test_every_locked_package_s_own_requirements_are_locked_too():
    """The test lock is closed: what each installed package requires (its metadata, on the
    markers of this machine) is in the lock at a version that satisfies it."""
    test = LOCKS["test"]
    for name, entry in test.items():
        if entry["marker"] and not Marker(entry["marker"]).evaluate():
            continue
        extras = next((e for n, (_, e) in {**RUNTIME_PINS, **TEST_PINS}.items() if n == name), set())
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker and not any(
                    requirement.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in test, f"{name} requires {requirement}, not in requirements/test.txt: {REGENERATE}"
            assert requirement.specifier.contains(test[dependency]["version"], prereleases=True), \
                f"{name} requires {requirement}, requirements/test.txt has {test[dependency]['version']}"


def test_this_virtualenv_is_the_lock():
    """`make install` re-installs when a lock file changes: every package locked for this
    machine is installed at its locked version."""
    for name, entry in {**LOCKS["build"], **LOCKS["test"]}.items():
        if entry["marker"] and not Marker(entry["marker"]).evaluate():
            continue
        assert metadata.version(name) == entry["version"], \
            f"{name} {metadata.version(name)} installed, {entry['version']} locked: run `make install`"


# -- every install goes through the lock --------------------------------------------------------
def pip_installs(text):
    joined = re.sub(r"\\\n\s*", " ", text)
    return [m.group(1).strip() for m in re.finditer(r"\bpip install\s([^\n&;]*)", joined)]


@pytest.mark.parametrize("path,wanted", [
    ("Makefile", {"build.txt", "test.txt"}),
    ("Dockerfile", {"build.txt", "runtime.txt"}),
    ("deploy/systemd/INSTALL.md", {"build.txt", "runtime.txt"}),
])
def test_every_install_of_the_hub_takes_the_locked_packages(path, wanted):
    installs = pip_installs((REPO / path).read_text())
    assert installs, path
    locks = set()
    for args in installs:
        words = args.split()
        if "--require-hashes" in words:
            locks |= {w.split("/")[-1] for w in words if w.startswith(("requirements/", "$(REQS)/"))}
        else:   # the hub itself, alone: its dependencies came from the lock
            assert "--no-deps" in words and "--no-build-isolation" in words, f"{path}: pip install {args}"
    assert locks - {"lock-tool.txt"} == wanted, f"{path} installs {sorted(locks)}"


def test_make_installs_again_when_a_lock_file_changes():
    makefile = (REPO / "Makefile").read_text()
    locks = re.search(r"^LOCKS\s*:=(.*)$", makefile, re.M).group(1).split()
    assert {lock.replace("$(REQS)", "requirements") for lock in locks} == \
        {"requirements/build.txt", "requirements/runtime.txt", "requirements/test.txt"}
    stamp = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.M).group(1).split()
    assert "pyproject.toml" in stamp and "$(LOCKS)" in stamp
    assert re.search(r"^lock:", makefile, re.M)
