# Task runner behind the README's commands. Every target sets up .venv/ first when it is missing or
# older than pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# llama-cpp-python compiles llama.cpp from source (about five minutes). It is built once per machine
# into a wheelhouse outside the repository and installed from there afterwards. The build is pinned
# to portable CPU features: a `-march=native` build crashed on this hardware (AVX-512/AMX kernels).
LLAMA_CPP_VERSION := 0.3.36
WHEELHOUSE ?= $(HOME)/.cache/memoria/wheels
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF
else
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
endif

.PHONY: install chat test test-quick crash lint format bench bench-turn bench-recall bench-agent bench-startup clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if ! ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "Building llama-cpp-python $(LLAMA_CPP_VERSION) once for this machine (about 5 minutes)..."; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
			--wheel-dir $(WHEELHOUSE) "llama-cpp-python==$(LLAMA_CPP_VERSION)"; \
	fi
	$(BIN)/python -m pip install --quiet --no-deps $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(BIN)/python -m pip install --quiet -e ".[dev,local]"
	touch $(STAMP)

chat: $(STAMP)
	$(BIN)/memoria chat $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

# Unit and integration tests, without the end-to-end ones: a few minutes.
test-quick: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/integration $(ARGS)

# The SIGKILL test with 200 kills at random moments (the test suite runs it with 30).
crash: $(STAMP)
	MEMORIA_CRASH_KILLS=200 $(BIN)/python -m pytest -s tests/e2e/test_crash_and_concurrency.py -k sigkill

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p .typecheck && ln -sfn ../graph .typecheck/memoria
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# Where a turn's time goes: each node, the checkpoint write, the prune, the hand-overs (~10 s).
bench-turn: $(STAMP)
	$(BIN)/python -m bench.turn_split $(ARGS)

# Recall: evidence in view and prompt size per preset on both generated sets (assistant and
# two-person chats), against a plain FTS5 search in recall's place (~12 min). Variants of the recall
# step: python -m bench.recall_tune.
bench-recall: $(STAMP)
	$(BIN)/python -m bench.recall $(ARGS)

# A tool-using agent: Memoria, create_agent + MemoriaMiddleware, + SummarizationMiddleware and
# without memory, on one scripted conversation (~2 min).
bench-agent: $(STAMP)
	$(BIN)/python -m bench.agent $(ARGS)

# Start-up time of the command line against the bare import of LangGraph and LangChain.
bench-startup: $(STAMP)
	$(BIN)/python -m bench.startup $(ARGS)

clean:
	rm -rf $(VENV)
