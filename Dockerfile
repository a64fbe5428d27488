# Shegong Hub service image: one image for every service, chosen by the command
# (`hub serve intake`, `hub setup`, ...). Configuration comes from environment variables only
# (docs/operations.md). Build: docker build -t shegong-hub:0.1.0 .

# -- build: install the hub and its locked dependencies into a virtualenv --------------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# every package at its locked version, checked against its hashes (requirements/, `make lock`)
COPY requirements/build.txt requirements/runtime.txt ./requirements/
RUN python -m venv /opt/hub \
 && /opt/hub/bin/pip install --require-hashes -r requirements/build.txt \
 && /opt/hub/bin/pip install --require-hashes -r requirements/runtime.txt
# then the hub itself, alone: nothing more is fetched
COPY pyproject.toml README.md ./
COPY services ./services
RUN /opt/hub/bin/pip install --no-deps --no-build-isolation .

# -- run: the virtualenv, the county files and the broker definitions tool; no build tools ----
FROM python:3.11-slim
# pg_dump / pg_restore for `hub backup` and `hub restore` (the backup CronJob runs this image)
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 hub \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app hub \
 && install -d -o 10001 -g 10001 /app/var /app/var/rabbitmq
COPY --from=build /opt/hub /opt/hub
COPY deploy/counties /app/deploy/counties
COPY deploy/rabbitmq/definitions.py /app/deploy/rabbitmq/definitions.py
ENV PATH=/opt/hub/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COUNTY_CONFIG=/app/deploy/counties/dongzhi-341721.yaml \
    HUB_HTTP_HOST=0.0.0.0 \
    HUB_VAR_DIR=/app/var
WORKDIR /app
# gateway, intake, visits, resources, stats
EXPOSE 8000 8001 8002 8003 8004
USER 10001:10001
ENTRYPOINT ["hub"]
CMD ["serve", "gateway"]
