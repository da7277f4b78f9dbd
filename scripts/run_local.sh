#!/usr/bin/env bash
# The whole system on its embedded defaults, on one machine, bound to 127.0.0.1:
#   embedded S3 (SeaweedFS) → the real Airflow DAG on SQLite (`airflow dags test`) → API + UI.
# No TMDB key: the offline sample. No W&B key: offline runs under data/wandb.
# SERVE=0 stops after the pipeline (used by the tests); Ctrl-C stops everything this started.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] && { set -a; . ./.env; set +a; }
DS=${DS:-$(date -u +%F)}
SERVE=${SERVE:-1}
API_PORT=${API_PORT:-8000}
UI_PORT=${UI_PORT:-8501}
export DATA_DIR=${DATA_DIR:-$PWD/data}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/.airflow}
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# A failed task retries after 10 s here (5 min in a deployment) so a local run never sits idle.
export AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY=${AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY:-10}
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export API_URL=${API_URL:-http://127.0.0.1:$API_PORT}
BIN=$PWD/.venv/bin

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkdir -p "$DATA_DIR" "$AIRFLOW_HOME"
S3=${S3_ENDPOINT_URL:-http://127.0.0.1:8333}
if curl -s -o /dev/null --max-time 2 "$S3"; then
  echo "== S3 already answering at $S3"
else
  echo "== starting the embedded S3 server at $S3 (log: $DATA_DIR/s3.log)"
  "$BIN/moviescore" s3 >"$DATA_DIR/s3.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 60); do curl -s -o /dev/null --max-time 1 "$S3" && break; sleep 0.5; done
  curl -s -o /dev/null --max-time 1 "$S3" || { tail -20 "$DATA_DIR/s3.log"; echo "S3 did not start"; exit 1; }
fi

echo "== Airflow metadata (SQLite in $AIRFLOW_HOME)"
"$BIN/airflow" db migrate >"$AIRFLOW_HOME/migrate.log" 2>&1
echo "== running the DAG tmdb_score_pipeline for $DS (real Airflow: airflow dags test)"
"$BIN/airflow" dags test tmdb_score_pipeline "$DS" >"$AIRFLOW_HOME/dags-test-$DS.log" 2>&1 || {
  tail -50 "$AIRFLOW_HOME/dags-test-$DS.log"; echo "the DAG failed; full log: $AIRFLOW_HOME/dags-test-$DS.log"; exit 1; }
echo "== decision"
"$BIN/python" -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['reason']); print('champion:', d['champion_version'])" \
  "$DATA_DIR/runs/run-$DS/decision.json"
"$BIN/moviescore" models list

[ "$SERVE" = 1 ] || exit 0
echo "== starting the API on http://127.0.0.1:$API_PORT (docs: /docs) and the UI on http://127.0.0.1:$UI_PORT"
"$BIN/moviescore" serve --port "$API_PORT" &
pids+=($!)
"$BIN/moviescore" ui --port "$UI_PORT" &
pids+=($!)
echo "Ctrl-C stops everything."
wait
