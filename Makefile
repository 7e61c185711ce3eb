# make smoke : install into .venv, then run the whole pipeline on the smoke profile (CPU, minutes)
# make test  : install into .venv, then run the test suite (CPU, minutes); CI runs this
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU wheel of PyTorch.  On machines whose pip has no local CPU wheel, add
#   TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
CORES ?= 2

.PHONY: install smoke mini paper test benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

smoke: install
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --configfile config/smoke.yaml

mini: install
	PATH=$(abspath $(VENV))/bin:$$PATH snakemake all_tables --cores $(CORES) --keep-going --configfile config/mini.yaml

test: install
	$(PY) -m pytest -q

benchmark: install
	$(PY) benchmarks/bench_updates.py

clean:
	rm -rf results/datasets results/behaviour results/runs results/scores.csv reports/*.tex reports/*.csv logs .snakemake
