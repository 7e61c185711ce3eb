# make smoke : install into .venv, then run the whole pipeline on the smoke profile (CPU, minutes)
# make test  : install into .venv, then run the test suite (CPU, minutes); CI runs this
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel of PyTorch.  On machines whose pip has no local CPU wheel, add
#   TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
CORES ?= 2

.PHONY: install smoke mini reference reference_epochs paper test lint benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[test]"
# pyproject.toml's marl-eval extra, without its dependencies (why: the comment there)
	$(PY) -m pip install -q --no-deps "$$($(PY) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["marl-eval"][0])')"
	touch $@

smoke: install
	$(PY) -m pipeline.config_checks config/smoke.yaml
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --configfile config/smoke.yaml

mini: install
	$(PY) -m pipeline.config_checks config/mini.yaml
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --keep-going --configfile config/mini.yaml

# the committed reference results (reports/reference/, RESULTS.md): 2 h 24 min on 2 CPU cores
reference: install
	$(PY) -m pipeline.config_checks config/reference.yaml
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --keep-going --configfile config/reference.yaml
	$(PY) -m analysis.reference_results

# the committed run at the authors' training length (reports/reference_epochs/): four of reference's cells;
# its RESULTS.md sets its ranks beside reference's (run `make reference` first for that comparison)
reference_epochs: install
	$(PY) -m pipeline.config_checks config/reference_epochs.yaml
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --keep-going --configfile config/reference_epochs.yaml
	$(PY) -m analysis.reference_results --config config/reference_epochs.yaml

# the paper's grid (config/config.yaml) on this machine: GPUs when torch sees them (device: auto).
# For conda-managed environments or a cluster see README ("The paper's grid").
paper: install
	$(PY) -m pipeline.config_checks config/config.yaml
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --keep-going

# the fresh-host test installs the same PyTorch as this venv (plain "torch" may take a multi-GB CUDA build)
test: install
	COMADICE_HOST_TORCH="$(TORCH)" $(PY) -m pytest -q

# code and workflow conventions (CI): ruff (pyproject.toml [tool.ruff]), Snakemake's linter, snakefmt
lint: install
	$(VENV)/bin/ruff check .
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile workflow/

benchmark: install
	$(PY) benchmarks/bench_engine.py

clean:
	# every profile's results/<profile>/, reports/<profile>/ and logs/<profile>/ (not the committed reports/reference/ and reports/reference_epochs/)
	rm -rf $(filter-out results/.gitkeep,$(wildcard results/*)) $(filter-out reports/templates/ reports/reference/ reports/reference_epochs/,$(wildcard reports/*/)) logs .snakemake
