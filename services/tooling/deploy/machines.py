"""The files for a machine rather than an orchestrator: the generated sections listing the
services in the Dockerfile (the ports the image exposes) and in the systemd guide
(deploy/systemd/INSTALL.md: the services given credentials, and the units enabled)."""
from tooling.deploy.roles import county_services, every_service, port

INSTALL = "deploy/systemd/INSTALL.md"


def expose():
    return [f"# {', '.join(every_service())}",
            "EXPOSE " + " ".join(str(port(name)) for name in every_service())]


def credentials_loop():
    return [f"for s in {' '.join(county_services())}; do"]


def enabled_units():
    units = ["shegong-hub.target", *(f"shegong-hub@{name}" for name in every_service())]
    lines, line = [], "systemctl enable"
    for unit in units:
        if len(line) + len(unit) + 3 > 90:
            lines.append(line + " \\")
            line = " " * len("systemctl enable")
        line += " " + unit
    return lines + [line]


def sections():
    """Hand-written files: relative path -> the bodies of their generated sections."""
    return {"Dockerfile": [expose()], INSTALL: [credentials_loop(), enabled_units()]}
