# Redriva Toolkit image: the web app on hypercorn, ffprobe for the scan depths full/deep.
# No Docker engine runs where this project is developed: this file is kept correct by reading.
# The wheel is built in its own stage; the image installs it like any user would (no source tree).
FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY toolkit ./toolkit
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    TOOLKIT_DATA_DIR=/app/data PUID=1000 PGID=1000 TZ=UTC

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tzdata curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY --from=wheel /dist /tmp/dist
RUN pip install /tmp/dist/*.whl && rm -rf /tmp/dist && mkdir -p /app/data /app/medias

COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh
RUN chmod +x /usr/local/bin/entrypoint.sh

EXPOSE 5050
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:5050/api/toolkit/health || exit 1
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["redriva-toolkit", "serve", "--host", "0.0.0.0", "--port", "5050"]
