# FlexLedger: `make demo` and `make test` set up .venv themselves on a fresh machine.
# PYTHON=/path/to/python3.X picks the interpreter; otherwise tools/find_python.sh takes the first
# supported one of python3.13, python3.12, python3.11, python3 on PATH (3.11 to 3.13 supported).
# A PYTHON of another version than .venv's makes .venv again from scratch.
PYTHON ?=
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test dist fuzz bench soak clean

ifneq ($(PYTHON),)
ifneq ($(shell $(PYTHON) -c 'import sys; print(sys.version_info[:2])' 2>/dev/null),$(shell $(PY) -c 'import sys; print(sys.version_info[:2])' 2>/dev/null))
.PHONY: $(STAMP)
VENV_CLEAR := --clear
endif
endif

# The venv's interpreter checks the system packages a dependency built from source needs (and
# installs them as root on Debian/Ubuntu) before pip starts.
$(STAMP): pyproject.toml tools/find_python.sh tools/check_build_deps.py
	@python=$$(tools/find_python.sh $(PYTHON)) && echo "using $$python (Python $$($$python -c 'import platform; print(platform.python_version())'))" && \
	  $$python -m venv $(VENV_CLEAR) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) tools/check_build_deps.py --install
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The second venv of the mixed-version tests (tests/test_mixed_versions.py): the newest other
# supported Python found (tools/find_second_python.sh); with none, those tests skip, saying so.
MIXED       := .venv-mixed
MIXED_STAMP := $(MIXED)/.installed

$(MIXED_STAMP): pyproject.toml tools/find_second_python.sh tools/check_build_deps.py | $(STAMP)
	@second=$$(tools/find_second_python.sh $(PY)) || exit 0; \
	  echo "second Python for the mixed-version tests: $$second" && \
	  $$second -m venv --clear $(MIXED) && \
	  $(MIXED)/bin/python -m pip install --quiet --upgrade pip && \
	  $(MIXED)/bin/python tools/check_build_deps.py --install && \
	  $(MIXED)/bin/python -m pip install --quiet -e '.[test]' && touch $@

demo: $(STAMP)
	$(PY) -m cli.main demo

test: $(STAMP) $(MIXED_STAMP)
	$(VENV)/bin/pytest -q

# The release artefacts: sdist and wheel in dist/ (tests/test_release.py checks them).
dist: $(STAMP)
	$(PY) -m build --outdir dist

# The fuzz targets of tests/fuzz with the same fixed (derandomized) inputs as in `make test`, and
# more of them: FUZZ_EXAMPLES per target. Prints inputs tried per second for each target.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FLEXLEDGER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -q tests/fuzz

bench: $(STAMP)
	$(PY) bench/bench_transfers.py
	$(PY) bench/bench_vm.py
	$(PY) bench/bench_gas_calibration.py
	$(PY) bench/bench_queries.py
	$(PY) bench/bench_smt.py
	$(PY) bench/bench_verify.py
	$(PY) bench/bench_testnet.py
	$(PY) bench/bench_clearing.py
	$(PY) bench/bench_grid.py

soak: $(STAMP)
	$(PY) -m testnet.faultrun --seconds 300 --seed 7

clean:
	rm -rf $(VENV) $(MIXED) .pytest_cache .hypothesis *.egg-info build dist
