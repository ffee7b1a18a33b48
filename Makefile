# All set-up comes from the project's own files: .python-version (Python 3.12), pyproject.toml and
# uv.lock (every dependency pinned). `make run` runs the main job, `make test` the test suite; both
# create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.synced
UV_VERSION := 0.13.8

.PHONY: setup run test browser test-slow lint bench bench-sweep bench-cli docs notebooks strip-notebooks results clean

# --compile-bytecode: uv installs sources only, so without it every fresh process (a sweep's forkserver,
# a SLURM job) compiles each library it imports where no .pyc can be written (PYTHONDONTWRITEBYTECODE,
# a read-only .venv): about twice the import time. uv gives up on a file whose compilation takes
# over 60 s, which a busy machine reaches (seen under load: "Bytecode timed out"); 600 s does not fail.
export UV_COMPILE_BYTECODE_TIMEOUT ?= 600
$(STAMP): pyproject.toml uv.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(PYTHON) -m uv sync --frozen --compile-bytecode --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	touch $@

setup: $(STAMP)

run: $(STAMP)  ## the main job: the baseline over 20 seeds -> results/baseline/
	$(VENV)/bin/scamsim run

test: $(STAMP) browser  ## lint, then the default test suite (slow statistical checks excluded)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n 2 -m "not slow" --durations=15

browser:  ## a Chromium for the browser tests: Debian's package where root can apt-get it; else they skip
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "note: no Chromium (and no root apt-get): the browser tests will be skipped; see README"

test-slow: $(STAMP)  ## the slow statistical checks
	$(VENV)/bin/pytest -n 2 -m slow

bench: $(STAMP)  ## speed and memory benchmarks (figures quoted in the README)
	$(VENV)/bin/python benchmarks/bench_workers.py

bench-sweep: $(STAMP)  ## 1,000 runs at calibration scale through `scamsim run -m` (about 5 minutes)
	$(VENV)/bin/python benchmarks/bench_sweep.py

bench-cli: $(STAMP)  ## how fast `scamsim` answers --help and bad input (goal: 1 s) -> benchmarks/cli_results.json
	$(VENV)/bin/python benchmarks/bench_cli.py

docs: $(STAMP)  ## regenerate the parameter table in docs/ODD.md from the schemas
	$(VENV)/bin/python -m sim.report.odd

notebooks: $(STAMP)  ## JupyterLab on experiments/notebooks/ (installs the dependency group "notebooks" first)
	$(PYTHON) -m uv sync --frozen --compile-bytecode --group notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=experiments/notebooks

strip-notebooks: $(STAMP)  ## remove outputs from the notebooks before committing (a test checks it)
	$(VENV)/bin/nbstripout experiments/notebooks/*.ipynb

# `make results`: re-make every committed result from this clean commit (about 1 h 50 min on 2 cores;
# README, Reproducibility) from the posterior that runs draw from by default (POSTERIOR=calibrated;
# another name of configs/posterior_draws/ or a .csv path to change it). STEPS=phase,briefs runs some
# steps; DRY=1 prints the plan; SMOKE=1 runs at tiny scale into a temporary folder, never over the
# committed results.
POSTERIOR ?= calibrated
STEPS ?=
results: $(STAMP)  ## re-make the committed results (results/MANIFEST.md says how each was made)
	$(VENV)/bin/python -m sim.report.remake --posterior="$(POSTERIOR)" --steps="$(STEPS)" \
	  $(if $(DRY),--dry-run) $(if $(SMOKE),--smoke)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
