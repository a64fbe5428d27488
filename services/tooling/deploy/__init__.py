"""The deployment files that name services, rendered from the services' manifests.

`hub deploy render` (tooling/deploy_commands.py) writes them; render.py lists every file and
how it is made: whole files from the manifests (nginx, broker definitions, the Kubernetes
services, Ingress and component list), and in hand-written files only their generated sections
(sections.py: docker-compose.yml, the set-up Job, hub-config, the Prometheus configurations,
the Secret commands of deploy/kubernetes/README.md, the Dockerfile's ports and the systemd
guide's service lists).
A service added, removed or changed in its manifest means rendering them again;
tests/deploy/test_deploy_render.py fails until they are.
"""
# the county the committed files are rendered for (deploy/counties/dongzhi-341721.yaml)
COUNTY = "341721"
