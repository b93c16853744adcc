# Set-up and the two jobs of the README. Works on a fresh machine with Python >= 3.11 and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= results/compare
REPS   ?= 20
JOBS   ?= 2
PORT   ?= 5006

.PHONY: setup compare test explore serve benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

## The main job: the three strategies on the same team and work, written to $(OUT)/
compare: setup
	$(BIN)/trunksim run scenarios/trunk-based.yaml scenarios/github-flow.yaml scenarios/gitflow.yaml \
		-n $(REPS) --seed 1 --jobs $(JOBS) -o $(OUT)
	@echo "Open $(OUT)/summary.csv and $(OUT)/plots/dora.png"

## The test suite (what CI runs)
test: setup
	$(BIN)/python -m pytest -q -n $(JOBS) -p no:cacheprovider

## Property tests with fresh random examples (the test job draws the same ones every run);
## a failure prints the blob that reproduces it: add it as a regression test
explore: setup
	$(BIN)/python -m pytest -q -n $(JOBS) -p no:cacheprovider --hypothesis-profile=explore $(shell grep -l '@given' tests/*.py)

## The workshop in a browser: participants open http://<this machine>:$(PORT)/ (what `trunksim serve` runs)
serve: setup
	$(BIN)/trunksim serve --port $(PORT)

benchmark: setup
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) results .pytest_cache
