"""GrowthLoop: the marketing closed loop of an internet-finance platform, as a Jupyter Book."""

from pathlib import Path

__version__ = "0.1.0"

#: The project root (where _config.yml, chapters/ and data/ live) when installed from a clone.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The bundled demo dataset: the chapters' default `data` parameter points here.
DEMO_DATA = PROJECT_ROOT / "data" / "demo"
