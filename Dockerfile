# casebridge: the MCP server as a slim, non-root image. Default command: the sandbox over Streamable HTTP.
#   docker build -t casebridge .
#   docker run --rm -p 127.0.0.1:8000:8000 -e CASEBRIDGE_HTTP_TOKEN="$(openssl rand -hex 32)" casebridge
# Listening on 0.0.0.0 (needed inside a container) requires CASEBRIDGE_HTTP_TOKEN or the OAuth variables;
# without either the container stops at once with one line saying so (README, "Running for a team").
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server ./server
COPY tools ./tools
COPY providers ./providers
COPY bench ./bench
RUN python -m venv /opt/casebridge && /opt/casebridge/bin/pip install ".[team]"

FROM python:3.11-slim
ENV PATH=/opt/casebridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CASEBRIDGE_DATA_DIR=/var/lib/casebridge \
    CASEBRIDGE_LOG_FORMAT=json
RUN useradd --system --uid 10001 --home-dir /var/lib/casebridge --shell /usr/sbin/nologin casebridge \
    && install -d -o casebridge -g casebridge -m 0700 /var/lib/casebridge
COPY --from=build /opt/casebridge /opt/casebridge
USER 10001:10001
WORKDIR /var/lib/casebridge
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["casebridge"]
CMD ["--sandbox", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
