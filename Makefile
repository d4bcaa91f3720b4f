# GrowthLoop: `make book` sets up and builds the demo book, `make test` runs every test.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed
PG_STAMP := $(VENV)/.postgres-installed
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

.PHONY: book test test-fast setup spark-setup pg-setup lint demo-data chapters clean bench site

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m pip install --quiet -r requirements.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m pip install --quiet --no-deps -e . 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -c 'import growthloop, ibis, papermill, jupyter_book, nbval'
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

# Run the demo campaign: every chapter executed by papermill into runs/demo/<timestamp>/,
# then that run's HTML book built there (its path is printed at the end).
book: setup
	$(BIN)/growthloop run campaigns/demo.yml

# Re-execute chapters/*.ipynb from chapters/src/*.py on the demo data (the nbval golden files).
chapters: setup
	$(BIN)/growthloop refresh-chapters

# pyspark for the cross-engine tests (tests/test_engines_*.py, their [pyspark] ids); Spark needs Java 17 or 21.
spark-setup: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	@JAVA="$${JAVA_HOME:+$$JAVA_HOME/bin/}java"; command -v "$$JAVA" >/dev/null || { echo "Java 17 is needed for the Spark tests ($$JAVA not found): install openjdk-17-jre-headless or set JAVA_HOME"; exit 1; }
	$(BIN)/python -m pip install --quiet -r requirements-spark.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -c 'import pyspark, ibis; ibis.pyspark'
	touch $(SPARK_STAMP)

# psycopg for the Postgres tests (tests/test_engines_*.py, their [postgres] ids); they start their own throwaway
# server with PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql).
pg-setup: $(PG_STAMP)

$(PG_STAMP): $(STAMP) requirements-postgres.txt
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "PostgreSQL's server programs are needed for the Postgres tests (initdb not found): install postgresql"; exit 1; }
	$(BIN)/python -m pip install --quiet -r requirements-postgres.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -c 'import psycopg, ibis; ibis.postgres'
	touch $(PG_STAMP)

# Every test: the fast tier, Spark and Postgres against DuckDB, headless Chromium, whole books,
# and nbval over the committed chapters. What CI runs (.ci/run); 21 minutes on 2 cores of an Intel Xeon,
# 32-35 on an AMD EPYC (CI stops at 90); pytest lists the 25 slowest tests in the log.
test: setup spark-setup pg-setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n 2 --durations=25 tests
	$(BIN)/python -m pytest --nbval -p no:randomly chapters --nbval-sanitize-with tests/nbval_sanitize.cfg

# The fast tier while working: unit, property and single-engine tests; no Java, no PostgreSQL
# server, no browser, no whole book (tests/conftest.py says which marks are left out).
FAST := not slow and not spark and not postgres and not browser
test-fast: setup
	$(BIN)/ruff check src tests benchmarks
	@start=$$(date +%s); status=0; $(BIN)/python -m pytest -n 2 -q -m "$(FAST)" tests || status=$$?; \
	echo "test-fast: $$(( $$(date +%s) - start )) s (target: under 300 s on 2 cores)"; exit $$status

demo-data: setup
	$(BIN)/growthloop demo-data --users 12000 --seed 7 --out data/demo

# ruff check only: the code keeps its own wrapping, not ruff format's (which would rewrite 126
# files), so a format check here failed on every tree
lint: setup
	$(BIN)/ruff check src tests benchmarks

# Scale benchmarks (not part of make test): datasets at three sizes, every stage against pandas
# and a hand-written DuckDB SQL floor; writes docs/benchmarks.md. Takes hours at 10M users.
bench: setup
	$(BIN)/python benchmarks/run.py --sizes 10000 100000 1000000 10000000

# One static site of every completed run (index, comparison, each run's book) in site/.
site: setup
	$(BIN)/growthloop publish

clean:
	rm -rf _build runs site
