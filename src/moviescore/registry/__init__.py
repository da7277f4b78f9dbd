"""The model registry on S3: versioned bundles, the champion pointer, history,
decisions and signing."""
