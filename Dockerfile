# One image for the four services (intake, media, review, notify).
# docker-compose.yml picks the service with its command:
#     python -m common.run intake|media|review|notify
# Without one, the image prints that usage and exits 2.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BIND_HOST=0.0.0.0 \
    DATA_DIR=/data

# A fixed uid/gid, so volume permissions are predictable.
RUN groupadd --system --gid 10001 siyige \
 && useradd --system --uid 10001 --gid siyige --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin siyige \
 && mkdir -p /app /data \
 && chown siyige:siyige /data

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
# Every pinned package ships a manylinux wheel for CPython 3.11, so no compiler is needed.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The code stays owned by root: the service user can read it, not change it.
COPY common/ common/
COPY services/ services/
COPY deploy/ deploy/
RUN python -m compileall -q common services deploy

USER siyige
# intake 8000, review 8001, notify 8002, media 8003 (each service listens on its own)
EXPOSE 8000 8001 8002 8003

# The entrypoint records which service this container runs, so one HEALTHCHECK
# serves all four; docker-compose.yml also names each service's port explicitly.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["sh", "/app/deploy/compose-entrypoint.sh", "--health"]

ENTRYPOINT ["sh", "/app/deploy/compose-entrypoint.sh"]
CMD ["python", "-m", "common.run"]
