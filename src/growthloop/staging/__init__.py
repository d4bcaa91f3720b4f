"""Staging: read a dataset folder, rename, cast, validate and set aside rows (no business logic)."""
