"""What the Models page shows of GET /models: versions, every run's candidates scored on that
run's own test set (with the champion's re-score and the mean baseline), champion changes, a
diff of two versions, and where each W&B run is."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

METRIC_COLUMNS = ("test_rmse", "val_rmse", "train_rmse", "test_mae", "test_r2", "rmse_gap")
CHAMPION_RESCORE = "champion (re-scored)"
BASELINE = "mean baseline"


def wandb_url(record: dict[str, Any]) -> str | None:
    """The online W&B run of a manifest or candidate (offline runs have no page)."""
    value = record.get("wandb_url")
    return value if isinstance(value, str) and value.startswith("https://") else None


def wandb_sync_command(record: dict[str, Any], data_dir: str) -> str:
    """`wandb sync <run dir>` for an offline run (uploads it from the training machine), ''
    for an online run or none. Offline runs live in $DATA_DIR/wandb/wandb/offline-run-*-<id>."""
    run_id = record.get("wandb_run_id")
    if wandb_url(record) or not isinstance(run_id, str) or not run_id:
        return ""
    return f"wandb sync {data_dir.rstrip('/')}/wandb/wandb/offline-run-*-{run_id}"


def _when(value: Any) -> str:
    """An ISO timestamp to the second, as a person reads it ('' when unknown)."""
    return str(value)[:19].replace("T", " ") if value else ""


def _metric(record: dict[str, Any], name: str) -> float | None:
    metrics = record.get("metrics")
    value = metrics.get(name) if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, int | float) else None


def versions_table(overview: dict[str, Any], data_dir: str = "data") -> pd.DataFrame:
    """One row per published version, newest first."""
    rows = []
    for v in overview.get("versions", []):
        row = {"version": v.get("version"), "model": v.get("model_name") or ""}
        row |= {"created": _when(v.get("created_at")), "champion": bool(v.get("champion"))}
        row |= {m: _metric(v, m) for m in METRIC_COLUMNS}
        row |= {"run": v.get("run_id") or "", "W&B": wandb_url(v)}
        row["W&B offline run"] = wandb_sync_command(v, data_dir)
        row["problem"] = v.get("error") or ""  # a manifest that does not verify or parse
        rows.append(row)
    columns = ["version", "model", "created", "champion", *METRIC_COLUMNS, "run", "W&B"]
    return pd.DataFrame(rows, columns=[*columns, "W&B offline run", "problem"])


def skipped_warnings(overview: dict[str, Any]) -> list[str]:
    """One line per registry record the API left out because it does not parse."""
    return [
        f"Skipped {s.get('key')}: {s.get('reason')}"
        for s in overview.get("skipped", [])
        if isinstance(s, dict)
    ]


def runs(overview: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pipeline run's decision the API lists, newest first, promoted or not: the runs
    list, then decisions only the champion history still holds (older runs)."""
    found: dict[str, dict[str, Any]] = {}
    history = [e.get("decision") for e in overview.get("history", []) if isinstance(e, dict)]
    for decision in [*overview.get("runs", []), *history]:
        if not isinstance(decision, dict) or not decision.get("candidates"):
            continue
        key = decision.get("run_id") or f"run {len(found) + 1}"
        found.setdefault(key, decision | {"run_id": key})
    return sorted(found.values(), key=lambda d: (d.get("ds") or "", d["run_id"]), reverse=True)


def latest_decision(overview: dict[str, Any]) -> dict[str, Any] | None:
    found = runs(overview)
    return found[0] if found else None


def run_label(decision: dict[str, Any]) -> str:
    outcome = "promoted" if decision.get("promoted") else "kept the champion"
    if decision.get("promoted") is None:
        outcome = "outcome not recorded"
    return f"{decision['run_id']} ({decision.get('ds') or 'no date'}, {outcome})"


def candidates_table(decision: dict[str, Any], data_dir: str = "data") -> pd.DataFrame:
    """One run's candidates side by side, as the promotion step saw them."""
    rows = []
    for c in decision.get("candidates", []):
        row = {"model": c.get("model_name")} | {m: _metric(c, m) for m in METRIC_COLUMNS}
        row["challenger"] = c.get("model_name") == decision.get("challenger")
        row |= {"W&B": wandb_url(c), "W&B offline run": wandb_sync_command(c, data_dir)}
        rows.append(row)
    recipe = decision.get("champion_recipe")
    if isinstance(recipe, dict):  # the champion's recipe, judged on the same rows
        row = {"model": f"{recipe.get('model_name')} (champion's recipe)", "challenger": False}
        rows.append(row | {m: _metric(recipe, m) for m in METRIC_COLUMNS})
    columns = ["model", *METRIC_COLUMNS, "challenger", "W&B", "W&B offline run"]
    return pd.DataFrame(rows, columns=columns)


def rmse_by_run_frame(decisions: list[dict[str, Any]]) -> pd.DataFrame:
    """Long table (run, scored, test_rmse): each run's candidates, the champion re-scored and
    the mean baseline, all on that run's own test set — compare within a run, not across."""
    rows = []
    for d in decisions:
        scored = [(c.get("model_name"), _metric(c, "test_rmse")) for c in d.get("candidates", [])]
        scored.append((CHAMPION_RESCORE, d.get("previous_champion_test_rmse")))
        scored.append((BASELINE, _metric({"metrics": d.get("baseline") or {}}, "test_rmse")))
        for name, rmse in scored:
            if isinstance(rmse, int | float):
                rows.append({"run": d["run_id"], "scored": str(name), "test_rmse": float(rmse)})
    return pd.DataFrame(rows, columns=["run", "scored", "test_rmse"])


def runs_table(decisions: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: its challenger against the champion and the baseline, and why."""
    rows = []
    for d in decisions:
        challenger: dict[str, Any] = next(
            (c for c in d.get("candidates", []) if c.get("model_name") == d.get("challenger")), {}
        )
        rows.append(
            {
                "run": d["run_id"],
                "date": d.get("ds") or "",
                "promoted": "yes" if d.get("promoted") else "no",
                "challenger": d.get("challenger") or "",
                "challenger test_rmse": _metric(challenger, "test_rmse"),
                "champion re-scored": d.get("previous_champion_test_rmse"),
                "baseline test_rmse": _metric({"metrics": d.get("baseline") or {}}, "test_rmse"),
                "reason": d.get("reason") or "",
            }
        )
    return pd.DataFrame(rows)


def history_table(overview: dict[str, Any]) -> pd.DataFrame:
    """Champion changes, newest first: when, which version, how it got there and why."""
    rows = []
    for entry in overview.get("history", []):
        decision = entry.get("decision") or {}
        rows.append(
            {
                "promoted_at": _when(entry.get("promoted_at")),
                "version": entry.get("version"),
                "model": entry.get("model_name") or "",
                "action": entry.get("action") or "",
                "test_rmse": _metric(entry, "test_rmse"),
                "previous": entry.get("previous_version") or "",
                "reason": decision.get("reason") or "",
            }
        )
    columns = ["promoted_at", "version", "model", "action", "test_rmse", "previous", "reason"]
    return pd.DataFrame(rows, columns=columns)


def _flatten(manifest: dict[str, Any]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for key, value in manifest.items():
        if key in ("params", "metrics") and isinstance(value, dict):
            out |= {(key, k): _text(v) for k, v in value.items()}
        elif key == "files" and isinstance(value, dict):
            for name, entry in value.items():
                entry = entry if isinstance(entry, dict) else {}
                digest = str(entry.get("sha256", ""))[:12]
                out[("data", f"file {name}")] = f"{entry.get('size', '?')} B, sha256 {digest}…"
        elif key == "feature_schema" and isinstance(value, list):
            out[("data", "features")] = f"{len(value)} columns"
        elif key in ("data_fingerprint", "ds", "run_id", "signature"):
            out[("data", key)] = _text(value)
        elif key not in ("champion",):
            out[("model", key)] = _text(value)
    return out


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def diff_versions(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    """Two manifests side by side (section, field, a, b, differs), model/params/metrics/data."""
    left, right = _flatten(a), _flatten(b)
    order = {"model": 0, "params": 1, "metrics": 2, "data": 3}
    keys = sorted({*left, *right}, key=lambda k: (order.get(k[0], 9), k[1]))
    rows = [
        {
            "section": section,
            "field": name,
            "a": left.get((section, name), "—"),
            "b": right.get((section, name), "—"),
        }
        for section, name in keys
    ]
    frame = pd.DataFrame(rows, columns=["section", "field", "a", "b"])
    frame["differs"] = frame["a"] != frame["b"]
    return frame


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


def demo_champion(overview: dict[str, Any]) -> bool:
    """Whether the champion learned the offline sample's IMDb ratings (a demo model)."""
    return any(v.get("champion") and v.get("demo") for v in overview.get("versions", []))
