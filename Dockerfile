# Shegong Hub service image: one image, the service chosen by the command (`hub serve intake`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY deploy/counties ./deploy/counties
RUN python -m venv /opt/hub && /opt/hub/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app hub
COPY --from=build /opt/hub /opt/hub
COPY deploy/counties /app/deploy/counties
ENV PATH=/opt/hub/bin:$PATH \
    COUNTY_CONFIG=/app/deploy/counties/dongzhi-341721.yaml \
    HUB_HTTP_HOST=0.0.0.0
WORKDIR /app
USER 10001
ENTRYPOINT ["hub"]
CMD ["serve", "gateway"]
