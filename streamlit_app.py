"""moviescore studio: rate a film before release, see why and how sure, and browse the models.

UI only: it asks the API at `API_URL` (default http://127.0.0.1:8000) over HTTP and never loads
a model. What is not drawing (bodies, error wording, tables, charts) is in moviescore.studio.
Run: `streamlit run streamlit_app.py --server.address 127.0.0.1`.
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

import streamlit as st

from moviescore.studio import charts
from moviescore.studio.answer import (
    comparables_frame,
    interval_sentence,
    scenarios_frame,
    warnings_of,
    waterfall_frame,
)
from moviescore.studio.client import ApiError, api_status, call_api, vocabulary
from moviescore.studio.movie_form import (
    MAX_DATE,
    MIN_DATE,
    TMDB_GENRES,
    WHAT_IF,
    build_payload,
    countries,
    describe_inputs,
    languages,
    what_if_batch,
    what_if_frame,
)
from moviescore.studio.registry_view import (
    attempts_table,
    candidates_table,
    data_table,
    demo_champion,
    diff_versions,
    history_table,
    rmse_by_run_frame,
    run_label,
    runs,
    runs_table,
    skipped_warnings,
    versions_table,
)

MAX_SCENARIOS = 3
# Form widget key -> the API field whose 422 message is shown under it.
FIELDS = {
    "title": "title", "tagline": "tagline", "overview": "overview", "genres": "genres",
    "lang": "original_language", "runtime": "runtime", "budget": "budget",
    "release": "release_date", "keywords": "keywords", "companies": "production_companies",
    "countries": "production_countries", "spoken": "spoken_languages", "homepage": "homepage",
}  # fmt: skip


def api_url() -> str:
    return (os.environ.get("API_URL") or _settings().api_url).rstrip("/")


def _settings() -> Any:
    from moviescore.config import get_settings

    return get_settings()


def table(frame: Any, *, hide_index: bool = True, **options: Any) -> None:
    """A dataframe whose missing values read '—' rather than 'None'."""
    st.dataframe(frame, hide_index=hide_index, placeholder="—", **options)


def wrapped_table(frame: Any) -> None:
    """A static table whose long texts (decision reasons) wrap instead of being cut off."""
    st.table(frame.style.format(precision=3, na_rep="—").hide(axis="index"))


@st.cache_data(ttl=10, show_spinner=False)
def cached_status(base_url: str) -> Any:
    """Checked at most every 10 s: every click reruns the script."""
    return api_status(base_url)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_vocabulary(base_url: str, version: str, field: str) -> list[str]:
    """Once per served model version (a swap brings a new one); a failure is not cached."""
    return vocabulary(base_url, field)


def suggestions(base_url: str, field: str) -> tuple[list[str] | None, str]:
    """(the served model's names of `field` to pick from, or None) and why there are none."""
    status = cached_status(base_url)
    if not status.version:
        return None, "No suggestions: the prediction service has no model loaded or is down."
    try:
        return cached_vocabulary(base_url, status.version, field), ""
    except ApiError as exc:
        return None, f"No suggestions from the prediction service: {exc}"


def names_input(base_url: str, key: str, label: str, help: str) -> str:
    """A picker of the names the model knows, where a new name can be typed too; free text
    separated by commas when the API cannot list them. The key of the widget drawn."""
    options, why = suggestions(base_url, FIELDS[key])
    if options is not None:
        st.multiselect(
            label, options, key=key, help=help, accept_new_options=True,
            placeholder="Pick from the model's most used, or type a new one",
        )  # fmt: skip
        return key
    st.text_input(f"{label} (comma-separated)", key=f"{key}_text", help=help)
    st.caption(f"{why} Type the names separated by commas.")
    return f"{key}_text"


def sidebar_status(base_url: str) -> None:
    status = cached_status(base_url)
    if status.ready:
        st.sidebar.markdown(f":green[●] API up and ready — {status.detail}")
    elif status.up:
        st.sidebar.markdown(f":orange[●] API up, no model yet — {status.detail}")
    else:
        st.sidebar.markdown(f":red[●] {status.detail}")
    st.sidebar.caption(f"API: {base_url}")


def movie_form(base_url: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The form; (its values when submitted, else None) and one message slot per field."""
    slots: dict[str, Any] = {}

    def slot(key: str) -> None:
        slots[FIELDS[key]] = st.empty()

    langs, lands = languages(), countries()
    with st.form("movie"):
        st.text_input("Title", key="title", max_chars=500)
        slot("title")
        st.text_input("Tagline", key="tagline", max_chars=1000)
        slot("tagline")
        st.text_area("Overview", key="overview", max_chars=10_000, height=110)
        slot("overview")
        st.multiselect("Genres", TMDB_GENRES, key="genres")
        slot("genres")
        st.selectbox(
            "Original language", list(langs), format_func=lambda c: f"{langs[c]} ({c})", key="lang"
        )
        slot("lang")
        left, mid, right = st.columns(3)
        with left:
            st.number_input("Runtime (min)", 0, 1000, 110, key="runtime", help="0 = unknown")
            slot("runtime")
        with mid:
            st.number_input(
                "Budget (million USD)", 0.0, 10_000.0, 20.0, key="budget", help="0 = unknown"
            )
            slot("budget")
        with right:
            st.date_input("Release date", date.today(), MIN_DATE, MAX_DATE, key="release")
            slot("release")
        keywords = names_input(
            base_url, "keywords", "Keywords",
            "TMDB keywords, e.g. 'astronaut, space mission'. None given = unknown.",
        )  # fmt: skip
        st.checkbox("The film has no keywords (not: unknown)", key="no_keywords")
        slot("keywords")
        companies = names_input(base_url, "companies", "Production companies", "as TMDB names them")
        slot("companies")
        st.multiselect(
            "Production countries",
            list(lands),
            format_func=lambda c: f"{lands[c]} ({c})",
            key="countries",
        )
        slot("countries")
        st.multiselect(
            "Spoken languages", list(langs), format_func=lambda c: f"{langs[c]} ({c})", key="spoken"
        )
        slot("spoken")
        st.text_input("Homepage", key="homepage", max_chars=2000)
        slot("homepage")
        submitted = st.form_submit_button("Predict rating", type="primary")
    if not submitted:
        return None, slots
    s = st.session_state
    values = build_payload(
        title=s.title, overview=s.overview, genres=s.genres, language=s.lang,
        runtime=float(s.runtime), budget_musd=float(s.budget), release_date=s.release,
        tagline=s.tagline, keywords=s[keywords], no_keywords=s.no_keywords,
        companies=s[companies], countries=s.countries, spoken_languages=s.spoken,
        homepage=s.homepage,
    )  # fmt: skip
    return values, slots


def show_answer(payload: dict[str, Any], answer: dict[str, Any]) -> None:
    st.metric("Predicted rating", f"{answer['predicted_rating']:.2f} / 10")
    sentence = interval_sentence(answer)
    st.markdown(sentence or "This API version gives no interval with its ratings.")
    for warning in warnings_of(answer):
        st.warning(warning, icon="⚠️")
    sent = answer.get("sentiment") or {}
    if sent:
        st.markdown(
            f"Overview sentiment: polarity {sent['polarity']:+.2f} (−1 negative … +1 positive), "
            f"subjectivity {sent['subjectivity']:.2f}"
        )
    st.caption(f"Answered by model {answer['model_version']} ({answer['model_name']})")
    frame = waterfall_frame(answer)
    if frame.empty:
        st.info("This API version does not explain its ratings (no `explanation` in its answer).")
    else:
        st.altair_chart(charts.waterfall(frame), width="stretch")
    similar = comparables_frame(answer)
    if not similar.empty:
        st.markdown("**Comparable films the model learned from**")
        table(
            similar,
            column_config={
                "title": st.column_config.TextColumn(width="medium"),
                "year": st.column_config.NumberColumn(format="%d"),
                "real rating": st.column_config.NumberColumn(format="%.1f"),
            },
        )
    with st.expander("Inputs the answer was computed from"):
        table(describe_inputs(payload), width="stretch")


def what_if_view(base_url: str, payload: dict[str, Any]) -> None:
    st.subheader("What if…")
    dimension = st.radio("Vary", WHAT_IF, horizontal=True, key="what_if")
    cache: dict[str, Any] = st.session_state.setdefault("what_if_cache", {})
    key = json.dumps([dimension, payload], sort_keys=True)
    if key not in cache:
        values, batch = what_if_batch(payload, dimension)
        with st.spinner(f"Rating {len(values)} variants of the {dimension}…"):
            try:
                answer = call_api("POST", "/predict/batch", base_url=base_url, json=batch)
            except ApiError as exc:
                st.error(str(exc))
                return
        cache.clear()  # one movie's what-ifs at a time
        cache[key] = what_if_frame(dimension, values, answer)
    st.altair_chart(charts.what_if(cache[key], dimension), width="stretch")


def scenarios_view() -> None:
    scenarios: list[dict[str, Any]] = st.session_state.setdefault("scenarios", [])
    if not scenarios:
        st.caption(f"Keep up to {MAX_SCENARIOS} answers as scenarios to compare them here.")
        return
    st.subheader("Scenarios side by side")
    for column, (n, scenario) in zip(
        st.columns(len(scenarios)), enumerate(scenarios, 1), strict=True
    ):
        answer = scenario["answer"]
        column.metric(f"{n}. {scenario['name']}", f"{answer['predicted_rating']:.2f} / 10")
        column.caption(interval_sentence(answer) or "no interval")
    table(scenarios_frame(scenarios), hide_index=False, width="stretch")
    if st.button("Clear scenarios", key="clear_scenarios"):
        scenarios.clear()
        st.rerun()


def predict_page(base_url: str) -> None:
    st.header("Predict a rating")
    st.caption("Describe a film before release; the champion model estimates its TMDB rating.")
    form_col, answer_col = st.columns([5, 6], gap="large")
    with form_col:
        payload, slots = movie_form(base_url)
    with answer_col:
        if payload is not None:
            if not payload["title"]:
                slots["title"].warning("Give the film a title.")
                return
            with st.spinner("Asking the model…"):
                try:
                    answer = call_api(
                        "POST", "/predict", base_url=base_url, json=payload,
                        params={"explain": "true"},
                    )  # fmt: skip
                except ApiError as exc:
                    st.error(str(exc))
                    for field, messages in exc.fields.items():
                        if field in slots:
                            slots[field].error("; ".join(messages))
                    return
            st.session_state["last"] = {"payload": payload, "answer": answer}
        last = st.session_state.get("last")
        if last is None:
            st.info("Fill in the form and press **Predict rating**.")
            return
        show_answer(last["payload"], last["answer"])
        if st.button("Keep as scenario", key="keep"):
            scenarios = st.session_state.setdefault("scenarios", [])
            scenarios.append(last | {"name": last["payload"]["title"]})
            del scenarios[:-MAX_SCENARIOS]
        what_if_view(base_url, last["payload"])
    scenarios_view()


def models_page(base_url: str) -> None:
    st.header("Models")
    with st.spinner("Reading the registry…"):
        try:
            overview = call_api("GET", "/models", base_url=base_url)
        except ApiError as exc:
            st.error(str(exc))
            return
    champion = overview.get("champion") or "none yet"
    served = overview.get("served_version") or "nothing loaded"
    st.write(f"Champion: **{champion}** — served by the API: **{served}**")
    if demo_champion(overview):
        st.warning(
            "Demo model: the champion learned IMDb ratings from the offline sample, not TMDB "
            "ratings. Collect TMDB data (a key or a snapshot) to train a real one."
        )
    for warning in skipped_warnings(overview):
        st.warning(warning, icon="⚠️")
    data_dir = str(_settings().data_dir)
    wide = st.column_config.TextColumn(width="large")
    links = {
        "W&B": st.column_config.LinkColumn("W&B", display_text="open run"),
        "W&B offline run": st.column_config.TextColumn(
            width="large", help="offline run: upload it from the training machine with this"
        ),
    }
    decisions = runs(overview)
    st.subheader("Every pipeline run")
    if decisions:
        wrapped_table(runs_table(decisions))
        scores = rmse_by_run_frame(decisions)
        if not scores.empty:
            st.altair_chart(charts.rmse_by_run(scores))
        by_id = {d["run_id"]: d for d in decisions}
        picked = st.selectbox(
            "Run", list(by_id), format_func=lambda r: run_label(by_id[r]), key="run"
        )
        decision = by_id[picked]
        table(candidates_table(decision, data_dir), column_config=links)
        st.markdown(f"**Decision:** {decision.get('reason') or 'no reason recorded'}")
        attempts = attempts_table(overview, picked)
        if len(attempts) > 1:
            wrapped_table(attempts)
    else:
        st.caption("No pipeline run recorded yet.")
    st.subheader("Published versions")
    versions = versions_table(overview, data_dir)
    table(versions, column_config=links)
    st.subheader("What each version learned from")
    table(data_table(overview))
    manifests = {v["version"]: v for v in overview.get("versions", []) if v.get("version")}
    if len(manifests) >= 2:
        st.subheader("Compare two versions")
        ids = list(manifests)
        left, right, only = st.columns([3, 3, 2])
        a = left.selectbox("Version A", ids, index=0, key="diff_a")
        b = right.selectbox("Version B", ids, index=1, key="diff_b")
        only_changes = only.toggle("Only differences", value=True, key="diff_only")
        diff = diff_versions(manifests[a], manifests[b])
        if only_changes:
            diff = diff[diff["differs"]]
        table(
            diff.rename(columns={"a": f"A: {a}", "b": f"B: {b}"}),
            width="stretch",
            column_config={f"A: {a}": wide, f"B: {b}": wide},
        )
    st.subheader("Champion history")
    wrapped_table(history_table(overview))


def main() -> None:
    st.set_page_config(page_title="moviescore studio", page_icon="🎬", layout="wide")
    base_url = api_url()
    page = st.sidebar.radio("Page", ["Predict", "Models"], key="page")
    sidebar_status(base_url)
    if page == "Predict":
        predict_page(base_url)
    else:
        models_page(base_url)


if __name__ == "__main__":
    main()
