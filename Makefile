# Two commands do all set-up on a fresh machine (Python 3.11 and Java 17 present):
#   make run    install what is needed, then run every job locally on embedded defaults
#   make test   install what is needed, then lint and run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: 2.13.0 is the CPU build; an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[local,all,dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/usecases run all

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	@echo "python -m benchmarks <name>  (names: $$(ls benchmarks/*.py | xargs -n1 basename | sed 's/.py$$//' | grep -v '^_' | tr '\n' ' '))"

clean:
	rm -rf .local build dist *.egg-info
