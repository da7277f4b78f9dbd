"""The seed project's recipe, as DESIGN.md describes it: the yardstick every backtest reports beside
the candidates (`training.backtest`), never a served model.

Runtime, first genre and original language label-encoded, the overview's TextBlob polarity and
its length in characters, into one XGBRegressor(n_estimators=200, learning_rate=0.05,
max_depth=4, subsample=0.7). Categories unseen in training get -1; missing values stay NaN
(XGBoost routes them). It reuses `features.sentiment` for the polarity: that is TextBlob's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from xgboost import XGBRegressor

from moviescore.ingest.raw_movie import LABEL
from moviescore.training.features import sentiment

SEED_PARAMS = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "max_depth": 4,
    "subsample": 0.7,
    "random_state": 42,
    "n_jobs": 1,
}


def _first_genre(value: object) -> str:
    items = list(value) if isinstance(value, list | tuple | np.ndarray) else []
    return str(items[0]) if items else "Unknown"


class SeedRecipe:
    """fit(train rows) / predict(rows): raw DataFrames with RAW_COLUMNS, label in `LABEL`."""

    def fit(self, df: pd.DataFrame) -> SeedRecipe:
        self.genres_ = {g: i for i, g in enumerate(sorted(set(df["genres"].map(_first_genre))))}
        langs = sorted(set(df["original_language"].fillna("").astype(str)))
        self.languages_ = {lang: i for i, lang in enumerate(langs)}
        self.model_ = XGBRegressor(**SEED_PARAMS)
        self.model_.fit(self._matrix(df), df[LABEL].to_numpy(dtype=float))
        return self

    def _matrix(self, df: pd.DataFrame) -> np.ndarray:
        overview = df["overview"].fillna("").astype(str)
        return np.column_stack(
            [
                pd.to_numeric(df["runtime"], errors="coerce").to_numpy(dtype=float),
                df["genres"].map(lambda g: self.genres_.get(_first_genre(g), -1)).to_numpy(float),
                df["original_language"]
                .fillna("")
                .astype(str)
                .map(lambda lang: self.languages_.get(lang, -1))
                .to_numpy(dtype=float),
                overview.map(lambda text: sentiment(text)[0]).to_numpy(dtype=float),
                overview.str.len().to_numpy(dtype=float),
            ]
        )

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return np.clip(self.model_.predict(self._matrix(df)), 0.0, 10.0)
