"""Scoring raw movies with a fitted model: the one prediction path, its compiled
(ONNX) form and batch files."""
