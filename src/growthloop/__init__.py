"""GrowthLoop: the marketing closed loop of an internet-finance platform, as a Jupyter Book.

The code follows the data one way (docs/design_notes.md, "Where things live"):

    staging  -> marts  -> metrics (one module per chapter)  -> present  -> run
    (load)      (shared derived tables)                        (book)      (runner, site, cli)

and `engine` holds every difference between DuckDB, Spark and Postgres. Chapters import the
chapter modules by their short names, `from growthloop import funnel`, and the notebook helpers
as `import growthloop.book as gb`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

#: The project root (where _config.yml, chapters/ and data/ live) when installed from a clone.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The bundled demo dataset: the chapters' default `data` parameter points here.
DEMO_DATA = PROJECT_ROOT / "data" / "demo"

#: Short names a chapter imports (`from growthloop import funnel, theme`) and where they live.
#: Imported on first use, so `growthloop` itself stays cheap to import (the CLI starts fast).
PUBLIC_MODULES: dict[str, str] = {
    "profiling": "growthloop.metrics.profiling",
    "funnel": "growthloop.metrics.funnel",
    "attribution": "growthloop.metrics.attribution",
    "rfm": "growthloop.metrics.rfm",
    "retention": "growthloop.metrics.retention",
    "campaign_review": "growthloop.metrics.campaign_review",
    "theme": "growthloop.present.theme",
    "plots": "growthloop.present.plots",
    "summary": "growthloop.present.summary",
    "quality": "growthloop.staging.quality",
}


def __getattr__(name: str) -> Any:
    if name in PUBLIC_MODULES:
        module = importlib.import_module(PUBLIC_MODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'growthloop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC_MODULES])
