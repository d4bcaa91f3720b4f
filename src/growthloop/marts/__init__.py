"""Marts: the derived tables several chapters share, each built once per dataset and kept."""
