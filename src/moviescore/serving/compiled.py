"""A fitted regressor compiled to an ONNX Runtime session, for scoring one movie at a time.

Each library's own predict has a fixed cost per call that dwarfs a single row's tree walk; one
ONNX Runtime session answers one row of any of the three candidates an order of magnitude faster
(figures in docs/BENCHMARKS.md, "Serving" and "Figures behind code choices"). The conversion is done
by the libraries' own converters, chosen by each candidate's spec (`moviescore.training.specs`),
when a model is loaded; the pickled pipeline stays the source of truth. Imported only by a scorer
asked to compile (the API), so training never loads ONNX.

A compiled model is only used once it agrees with the library's predict on rows that reach both
sides of every split and every missing-value branch (`boundary_rows`); otherwise the caller keeps
the library's predict.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import helper

from moviescore.training.specs import spec_for

# Ratings are answered to two decimals; float32 tree sums differ from float64 ones by ~1e-5.
TOLERANCE = 1e-3
MAX_CHECK_ROWS = 2048
TREE_OP = "TreeEnsembleRegressor"  # what onnxmltools and skl2onnx emit for all three candidates


class CompileError(ValueError):
    """The regressor cannot be compiled, or its compiled form disagrees with it."""


def to_onnx(regressor: Any, n_features: int) -> onnx.ModelProto:
    """The regressor as an ONNX graph with one float32 input `X` of `n_features` columns, by its
    candidate spec's converter."""
    model_spec = spec_for(regressor)
    if model_spec is None:
        raise CompileError(f"no ONNX converter for {type(regressor).__name__}")
    with warnings.catch_warnings():  # the converters warn about opsets they pick themselves
        warnings.simplefilter("ignore")
        try:
            graph: onnx.ModelProto = model_spec.to_onnx(regressor, n_features)
        except NotImplementedError as exc:  # a candidate without a converter
            raise CompileError(str(exc)) from exc
    return graph


def tree_node(model: onnx.ModelProto) -> onnx.NodeProto:
    """The graph's one tree-ensemble node."""
    nodes = [n for n in model.graph.node if n.op_type == TREE_OP]
    if len(nodes) != 1:
        raise CompileError(f"expected one tree-ensemble node, found {len(nodes)}")
    return nodes[0]


def node_attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def boundary_rows(model: onnx.ModelProto, n_features: int, seed: int = 0) -> np.ndarray:
    """Rows whose values sit between every pair of neighbouring split thresholds of each feature
    (and below the lowest, above the highest, and missing): every side of every split is reached
    by some row (up to MAX_CHECK_ROWS values per feature), while no value lies close enough to a
    threshold for float32 rounding to change a branch — there the libraries differ honestly."""
    attrs = node_attributes(tree_node(model))
    modes = [m.decode() if isinstance(m, bytes) else m for m in attrs["nodes_modes"]]
    per_feature: dict[int, set[float]] = {}
    for mode, feature, value in zip(
        modes, attrs["nodes_featureids"], attrs["nodes_values"], strict=True
    ):
        if mode != "LEAF" and np.isfinite(value):  # sklearn's "missing or not" split is at +inf
            per_feature.setdefault(int(feature), set()).add(float(value))
    rng = np.random.default_rng(seed)
    columns = []
    for feature in range(n_features):
        cuts = np.sort(np.fromiter(per_feature.get(feature, {0.0}), float))
        inner = (cuts[:-1] + cuts[1:]) / 2
        # only where a float32 input falls clearly between the two thresholds (a dense feature
        # such as the text score can have thresholds a few float32 steps apart)
        margin = 1e-6 * np.maximum(1.0, np.abs(cuts))
        apart = ((inner - cuts[:-1]) > margin[:-1]) & ((cuts[1:] - inner) > margin[1:])
        outside = [cuts[0] - 1.0 - abs(cuts[0]), cuts[-1] + 1.0 + abs(cuts[-1])]
        columns.append(np.concatenate([[np.nan, *outside], rng.permutation(inner[apart])]))
    n_rows = min(MAX_CHECK_ROWS, max(len(c) for c in columns))
    X = np.empty((n_rows, n_features))
    for j, values in enumerate(columns):
        X[:, j] = rng.choice(values, n_rows)  # shorter columns: their values again, shuffled
        X[: len(values), j] = values[:n_rows]
    return X


def compile_regressor(
    regressor: Any, n_features: int, predict: Callable[[np.ndarray], Any]
) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime predict for `regressor`, checked against `predict` (the library's own) on
    `boundary_rows`; raises CompileError when they disagree by more than TOLERANCE."""
    import onnxruntime as ort

    model = to_onnx(regressor, n_features)
    options = ort.SessionOptions()
    # One thread: the API scores one movie per request and shares two cores with the server.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    input_name, output_names = session.get_inputs()[0].name, [session.get_outputs()[0].name]

    def compiled(X: np.ndarray) -> np.ndarray:
        return session.run(output_names, {input_name: np.asarray(X, dtype=np.float32)})[0].ravel()

    check = boundary_rows(model, n_features)
    gap = np.abs(compiled(check) - np.asarray(predict(check), dtype=float))
    if not np.isfinite(gap).all() or gap.max() > TOLERANCE:
        worst = float(np.nanmax(gap)) if np.isfinite(gap).any() else float("nan")
        raise CompileError(
            f"compiled {type(regressor).__name__} disagrees with its library on "
            f"{int((~(gap <= TOLERANCE)).sum())} of {len(check)} check rows (worst {worst:.4g})"
        )
    return compiled
