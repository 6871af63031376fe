# Two commands do all set-up on a fresh machine:
#   make demo   - create .venv, install skacai, run the demo on the bundled digits data
#   make test   - create .venv, install skacai with its test tools, run the test suite
#
# torch is installed first, pinned (TORCH_SPEC), from TORCH_INDEX if given. From the
# public index alone (PyPI), torch==2.13.0 on Linux x86-64 is the CUDA build, which
# pulls NVIDIA's CUDA libraries as further wheels. The CPU-only build, on a fresh
# checkout (or after `make clean`):
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# Another version: make test TORCH_SPEC="torch==2.5.1" TORCH_INDEX=...
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test check-readme check-smoke check-slow test-all lint docs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || { echo "$(PYTHON) has no venv module (with ensurepip): on Debian or Ubuntu, sudo apt install python3-venv" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m skacai demo --plot demo-interpolation.png --force

test: $(STAMP)
	$(PY) -m pytest

# The README's demo table against what the demo prints, the demo's picture and the user
# guide's examples (slow tests; CI runs them).
check-readme: $(STAMP)
	$(PY) -m pytest -m slow tests/test_docs_and_demo.py

# The benchmark scripts' smoke runs and the five longest examples (slow tests; CI runs them).
check-smoke: $(STAMP)
	$(PY) -m pytest -m slow tests/test_quality_benchmark.py tests/test_time_to_accuracy.py \
		tests/test_examples.py tests/test_sparse.py tests/test_payoff_benchmarks.py

# The slow tests the docs cite (the lines' six-seed mean, MNIST clustering, the paper's
# Table 1, the UMAP comparison's smoke run, which needs the bench extra) and the long
# fuzz runs. CI runs them.
check-slow: $(STAMP)
	$(PIP) install --quiet -e ".[bench]"
	$(PY) -m pytest -m slow tests/test_lines.py tests/test_mnist.py tests/test_paper_tables.py \
		tests/test_defaults_sweep.py tests/test_fuzz.py

test-all: $(STAMP)
	$(PY) -m pytest -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The Sphinx site (runs every example of the gallery); any warning fails the build.
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -n -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	rm -rf docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst
