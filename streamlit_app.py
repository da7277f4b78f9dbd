"""moviescore UI: a rating form and the model registry, both read from the API over HTTP.

The UI never loads a model: it posts to `API_URL` (default http://127.0.0.1:8000) and shows what
comes back. Everything that is not drawing lives in small functions above `main()` so tests can
call them directly. Run: `streamlit run streamlit_app.py --server.address 127.0.0.1`.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import httpx
import pandas as pd
import streamlit as st

TIMEOUT_SECONDS = 10.0
TMDB_GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction", "TV Movie",
    "Thriller", "War", "Western",
)  # fmt: skip
LANGUAGES = {
    "en": "English", "fr": "French", "es": "Spanish", "de": "German", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "zh": "Chinese", "cn": "Cantonese", "hi": "Hindi",
    "ru": "Russian", "pt": "Portuguese", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "nl": "Dutch", "fa": "Persian", "th": "Thai", "tr": "Turkish", "pl": "Polish",
}  # fmt: skip
METRIC_COLUMNS = ("test_rmse", "val_rmse", "train_rmse", "test_mae", "test_r2", "rmse_gap")


class ApiError(Exception):
    """Something the user should read: the API is down, refused the input, or has no model."""


def api_url() -> str:
    return (os.environ.get("API_URL") or _settings_api_url()).rstrip("/")


def _settings_api_url() -> str:
    from moviescore.config import get_settings

    return get_settings().api_url


def build_payload(
    *,
    title: str,
    overview: str,
    genres: list[str],
    language: str,
    runtime: float,
    budget_musd: float,
    release_date: date,
) -> dict[str, Any]:
    """The /predict body for the form's values (budget is entered in millions of USD)."""
    return {
        "title": title.strip(),
        "overview": overview.strip(),
        "genres": list(genres),
        "original_language": language,
        "runtime": runtime or None,
        "budget": budget_musd * 1_000_000 if budget_musd else None,
        "release_date": release_date.isoformat(),
    }


def describe_error(response: httpx.Response) -> str:
    """A readable sentence for an API error body (FastAPI's 422 detail names each field)."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        return f"the API answered {response.status_code}"
    if isinstance(detail, list):
        parts = []
        for err in detail:
            field = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{field}: {err.get('msg', 'invalid')}")
        return "; ".join(parts)
    return str(detail)


def call_api(method: str, path: str, *, base_url: str, json: Any = None) -> Any:
    url = f"{base_url}{path}"
    try:
        response = httpx.request(method, url, json=json, timeout=TIMEOUT_SECONDS)
    except httpx.TransportError as exc:
        raise ApiError(f"The prediction API at {base_url} is not reachable ({exc}).") from exc
    if response.status_code >= 400:
        raise ApiError(f"The API refused the request: {describe_error(response)}")
    return response.json()


def wandb_url(record: dict[str, Any]) -> str | None:
    """The online W&B run of a manifest or candidate, if it has one (offline runs have none)."""
    value = record.get("wandb_url")  # what the pipeline writes into manifests and decisions
    return value if isinstance(value, str) and value.startswith("https://") else None


def versions_table(overview: dict[str, Any]) -> pd.DataFrame:
    """One row per published version: name, when, metrics, champion flag, W&B link."""
    rows = []
    for v in overview.get("versions", []):
        metrics = v.get("metrics") or {}
        row = {"version": v.get("version"), "model": v.get("model_name")}
        row |= {"created": v.get("created_at"), "champion": bool(v.get("champion"))}
        row |= {m: metrics.get(m) for m in METRIC_COLUMNS}
        row["W&B"] = wandb_url(v)
        rows.append(row)
    return pd.DataFrame(
        rows, columns=["version", "model", "created", "champion", *METRIC_COLUMNS, "W&B"]
    )


def data_table(overview: dict[str, Any]) -> pd.DataFrame:
    """What each version learned from: label scale (demo = the offline sample), sources, rows
    and release dates per split, the training cutoff and the data fingerprint."""
    rows = []
    for v in overview.get("versions", []):
        data = v.get("data") or {}
        dates = data.get("release_dates") or {}
        row = {"version": v.get("version"), "demo": bool(v.get("demo"))}
        row |= {"label scale": data.get("label_scale"), "cutoff": data.get("ds")}
        row["sources"] = ", ".join(f"{k} {n}" for k, n in (data.get("sources") or {}).items())
        for split in ("train", "val", "test"):
            span = " … ".join(dates.get(split) or [])
            row[split] = f"{data.get(split, '')} ({span})" if split in data else None
        row["fingerprint"] = data.get("fingerprint")
        rows.append(row)
    columns = ["version", "demo", "label scale", "cutoff", "sources", "train", "val", "test"]
    return pd.DataFrame(rows, columns=[*columns, "fingerprint"])


def attempts_table(overview: dict[str, Any], run_id: str | None) -> pd.DataFrame:
    """Every attempt of one run (re-runs, promotions that lost a race), oldest first."""
    attempts = (overview.get("attempts") or {}).get(run_id or "", [])
    columns = ["attempted_at", "action", "champion_version", "reason"]
    return pd.DataFrame([{c: a.get(c) for c in columns} for a in attempts], columns=columns)


def candidates_table(decision: dict[str, Any]) -> pd.DataFrame:
    """The candidates of one pipeline run side by side, as the promotion step saw them."""
    rows = []
    for c in decision.get("candidates", []):
        metrics = c.get("metrics") or {}
        row = {"model": c.get("model_name")} | {m: metrics.get(m) for m in METRIC_COLUMNS}
        row["challenger"] = c.get("model_name") == decision.get("challenger")
        row["W&B"] = wandb_url(c)
        rows.append(row)
    recipe = decision.get("champion_recipe")
    if isinstance(recipe, dict):  # the champion's recipe, judged on the same rows
        metrics = recipe.get("metrics") or {}
        row = {"model": f"{recipe.get('model_name')} (champion's recipe)"}
        rows.append(row | {m: metrics.get(m) for m in METRIC_COLUMNS} | {"challenger": False})
    return pd.DataFrame(rows, columns=["model", *METRIC_COLUMNS, "challenger", "W&B"])


def latest_decision(overview: dict[str, Any]) -> dict[str, Any] | None:
    """The newest pipeline run's decision (promoted or not), else the newest champion change's."""
    for run in overview.get("runs", []):  # newest first
        if isinstance(run, dict) and run.get("candidates"):
            return run
    for entry in overview.get("history", []):  # newest first
        decision = entry.get("decision")
        if isinstance(decision, dict) and decision.get("candidates"):
            return decision
    return None


def history_table(overview: dict[str, Any]) -> pd.DataFrame:
    """Champion changes, newest first: when, which version, how it got there and why."""
    rows = []
    for entry in overview.get("history", []):
        decision = entry.get("decision") or {}
        rows.append(
            {
                "promoted_at": entry.get("promoted_at"),
                "version": entry.get("version"),
                "model": entry.get("model_name"),
                "action": entry.get("action"),
                "test_rmse": (entry.get("metrics") or {}).get("test_rmse"),
                "previous": entry.get("previous_version"),
                "reason": decision.get("reason"),
            }
        )
    columns = ["promoted_at", "version", "model", "action", "test_rmse", "previous", "reason"]
    return pd.DataFrame(rows, columns=columns)


def predict_page(base_url: str) -> None:
    st.header("Predict a rating")
    st.caption(
        "Describe a film before release; the current champion model estimates its TMDB rating."
    )
    with st.form("movie"):
        title = st.text_input("Title", key="title", max_chars=500)
        overview = st.text_area("Overview", key="overview", max_chars=10_000)
        genres = st.multiselect("Genres", TMDB_GENRES, key="genres")
        language = st.selectbox(
            "Original language",
            list(LANGUAGES),
            format_func=lambda c: f"{LANGUAGES[c]} ({c})",
            key="lang",
        )
        left, mid, right = st.columns(3)
        runtime = left.number_input("Runtime (min)", 0, 1000, 110, key="runtime")
        budget = mid.number_input("Budget (million USD)", 0.0, 10_000.0, 20.0, key="budget")
        released = right.date_input(
            "Release date", date.today(), date(1870, 1, 1), date(2100, 12, 31), key="release"
        )
        submitted = st.form_submit_button("Predict rating")
    if not submitted:
        return
    if not title.strip():
        st.warning("Give the film a title.")
        return
    payload = build_payload(
        title=title,
        overview=overview,
        genres=genres,
        language=language,
        runtime=float(runtime),
        budget_musd=float(budget),
        release_date=released,
    )
    try:
        answer = call_api("POST", "/predict", base_url=base_url, json=payload)
    except ApiError as exc:
        st.error(str(exc))
        return
    st.metric("Predicted rating", f"{answer['predicted_rating']:.2f} / 10")
    sent = answer["sentiment"]
    st.write(
        f"Overview sentiment: polarity {sent['polarity']:+.2f} (−1 negative … +1 positive), "
        f"subjectivity {sent['subjectivity']:.2f}"
    )
    st.caption(f"Answered by model {answer['model_version']} ({answer['model_name']})")


def models_page(base_url: str) -> None:
    st.header("Models")
    try:
        overview = call_api("GET", "/models", base_url=base_url)
    except ApiError as exc:
        st.error(str(exc))
        return
    champion = overview.get("champion") or "none yet"
    served = overview.get("served_version") or "nothing loaded"
    st.write(f"Champion: **{champion}** — served by the API: **{served}**")
    if any(v.get("champion") and v.get("demo") for v in overview.get("versions", [])):
        st.warning(
            "Demo model: the champion learned IMDb ratings from the offline sample, not TMDB "
            "ratings. Collect TMDB data (a key or a snapshot) to train a real one."
        )
    table = versions_table(overview)
    st.subheader("Published versions")
    st.dataframe(table, column_config={"W&B": st.column_config.LinkColumn("W&B")}, hide_index=True)
    if not table.empty and table["test_rmse"].notna().any():
        st.bar_chart(table.set_index("version")["test_rmse"], y_label="test RMSE")
    decision = latest_decision(overview)
    if decision is not None:
        st.subheader(f"Latest run's candidates ({decision.get('run_id', '?')})")
        candidates = candidates_table(decision)
        st.dataframe(
            candidates, column_config={"W&B": st.column_config.LinkColumn("W&B")}, hide_index=True
        )
        st.bar_chart(candidates.set_index("model")[["val_rmse", "test_rmse"]], stack=False)
        st.caption(decision.get("reason", ""))
        attempts = attempts_table(overview, decision.get("run_id"))
        if len(attempts) > 1:
            st.dataframe(attempts, hide_index=True)
    st.subheader("What each version learned from")
    st.dataframe(data_table(overview), hide_index=True)
    st.subheader("Promotion history")
    st.dataframe(history_table(overview), hide_index=True)


def main() -> None:
    st.set_page_config(page_title="moviescore", page_icon="🎬")
    base_url = api_url()
    page = st.sidebar.radio("Page", ["Predict", "Models"], key="page")
    st.sidebar.caption(f"API: {base_url}")
    if page == "Predict":
        predict_page(base_url)
    else:
        models_page(base_url)


if __name__ == "__main__":
    main()
