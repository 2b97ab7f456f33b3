# Everything a fresh machine needs is installed by these targets; `make test` is what CI runs.
# `make help` lists the targets: a rule line's `## ...` comment is its help text.
PYTHON ?= python3
VENV := .venv
TF_VENV := .venv-tf
PADDLE_VENV := .venv-paddle
SAGEMAKER_VENV := .venv-sagemaker
BENCH_KSERVE_VENV := .venv-bench-kserve
TRITON_VENV := .venv-triton
BIN := $(VENV)/bin
PORT ?= 9000
REST_PORT ?= 8501

.PHONY: help install demo test unit integration robustness style protos audit clean docker_build docker_push
.DEFAULT_GOAL := help

help: ## list these targets, one line each
	@echo "make TARGET (variables: PYTHON=$(PYTHON) VENV=$(VENV) PORT=$(PORT) REST_PORT=$(REST_PORT))"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

install: $(VENV)/.installed ## the server, its test clients and test tools into .venv (about 1 GB)

# What `make demo` needs, about a third of `install`: the server's runtime (pinned by
# constraints.txt) and the two clients the demo is tried with, ovmsclient (the README's
# example) and pillow (example_client/jpeg_classification.py).
DEMO_CLIENTS := 'ovmsclient==2023.1' 'pillow>=10'

$(VENV)/.runtime-installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e . $(DEMO_CLIENTS)
	touch $@

# On top of the runtime: the test extra; silero-vad only for the model file its wheel ships,
# so without its torch dependencies.
$(VENV)/.installed: $(VENV)/.runtime-installed pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	$(BIN)/pip install -q --no-deps silero-vad==6.2.3
	touch $@

# The official TF Serving client with TensorFlow (2.1 GB), kept apart from the server.
$(TF_VENV)/.installed:
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/pip install -q --upgrade pip
	$(TF_VENV)/bin/pip install -q tensorflow-serving-api==2.21.0
	touch $@

# PaddlePaddle (200 MB), only to write a legacy-format .pdmodel for the Paddle format test.
$(PADDLE_VENV)/.installed:
	$(PYTHON) -m venv $(PADDLE_VENV)
	$(PADDLE_VENV)/bin/pip install -q --upgrade pip
	$(PADDLE_VENV)/bin/pip install -q paddlepaddle==3.3.1
	touch $@

# The SageMaker Python SDK v2 (300 MB), whose TensorFlowPredictor and serializers the SageMaker
# tests call the server with; its protobuf<7 pin conflicts with the server's, so apart.
$(SAGEMAKER_VENV)/.installed:
	$(PYTHON) -m venv $(SAGEMAKER_VENV)
	$(SAGEMAKER_VENV)/bin/pip install -q --upgrade pip
	$(SAGEMAKER_VENV)/bin/pip install -q sagemaker==2.257.7
	touch $@

# Triton's Python client (tritonclient[http,grpc]), the KServe v2 tests' client; its
# protobuf<7 pin conflicts with the server's, so apart.
$(TRITON_VENV)/.installed:
	$(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/pip install -q --upgrade pip
	$(TRITON_VENV)/bin/pip install -q 'tritonclient[http,grpc]==2.73.0'
	touch $@

demo: $(VENV)/.runtime-installed ## install the runtime only, write a demo model, serve it on gRPC PORT, REST REST_PORT
	$(BIN)/python -m ie_serving.demo demo_models/demo
	$(BIN)/ie_serving model --model_name demo --model_path demo_models/demo --port $(PORT) --rest_port $(REST_PORT)

# tests/unit: no subprocess, no model compilation (under a minute); tests/integration: in
# process but heavier (OpenVINO compiles, a fresh interpreter); tests/functional: real servers.
# The run writes its robustness report to build/robustness.md, never to a tracked file.
FRAMEWORK_PYTHONS := IE_SERVING_TF_PYTHON=$(CURDIR)/$(TF_VENV)/bin/python IE_SERVING_PADDLE_PYTHON=$(CURDIR)/$(PADDLE_VENV)/bin/python \
	IE_SERVING_SAGEMAKER_PYTHON=$(CURDIR)/$(SAGEMAKER_VENV)/bin/python IE_SERVING_TRITON_PYTHON=$(CURDIR)/$(TRITON_VENV)/bin/python \
	IE_SERVING_KSERVE_PYTHON=$(CURDIR)/$(BENCH_KSERVE_VENV)/bin/python

test: install $(TF_VENV)/.installed $(PADDLE_VENV)/.installed $(SAGEMAKER_VENV)/.installed $(TRITON_VENV)/.installed $(BENCH_KSERVE_VENV)/.installed ## install everything (+ TensorFlow, PaddlePaddle, SageMaker SDK, Triton client, KServe venvs) and run every test (CI)
	$(FRAMEWORK_PYTHONS) $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit tests/integration tests/functional

unit: install ## the unit tests only (no subprocess, no model compilation; under a minute)
	$(BIN)/python -m pytest -q tests/unit

integration: install ## the in-process tests that compile models or start an interpreter
	$(BIN)/python -m pytest -q tests/integration

robustness: install ## run the tests marked robustness and refresh docs/robustness.md from their results
	$(BIN)/python -m pytest -q -p no:cacheprovider -m robustness --robustness-report=docs/robustness.md tests

style: install ## ruff format --check and ruff check
	$(BIN)/ruff format --check ie_serving serve tests scripts benchmarks example_client docs local_test
	$(BIN)/ruff check ie_serving serve tests scripts benchmarks example_client docs local_test

protos: install ## regenerate ie_serving/protos from the .proto files
	$(BIN)/python scripts/gen_protos.py

# Known vulnerabilities in the pinned runtime dependencies: needs network access to PyPI's JSON
# API or to OSV (api.osv.dev); not part of `make test`.
audit: ## pip-audit the pinned runtime dependencies (needs PyPI's JSON API or OSV)
	$(PYTHON) -m venv .venv-audit
	.venv-audit/bin/pip install -q pip-audit
	.venv-audit/bin/pip-audit --strict -r constraints.txt

clean: ## remove the venvs and demo_models
	rm -rf $(VENV) $(TF_VENV) $(PADDLE_VENV) $(SAGEMAKER_VENV) $(TRITON_VENV) demo_models

# The SageMaker serving image (Dockerfile); IMAGE and TAG name it, docker_push also creates the
# ECR repository when missing (build_and_push.sh). The Dockerfile's target tfserving is
# tensorflow/serving's image contract (docs/container_image.md), named $(IMAGE)-tfserving:$(TAG).
IMAGE ?= ie-serving
TAG ?= latest

docker_build: ## build the SageMaker serving image IMAGE:TAG (default ie-serving:latest)
	docker build -t $(IMAGE):$(TAG) .

docker_build_tfserving: ## build the TF Serving-style image IMAGE-tfserving:TAG (ports 8500/8501, MODEL_NAME)
	docker build --target tfserving -t $(IMAGE)-tfserving:$(TAG) .

docker_push: ## build_and_push.sh: push the image to ECR (creating the repository)
	./build_and_push.sh $(IMAGE) $(TAG)

# Without a Docker engine: podman builds the same Dockerfile on a local stand-in for
# python:3.11-slim (debootstrap once, cached in .cache/image); needs root and Debian's podman,
# runc and debootstrap (.ci/run installs them). `make test` builds and runs it (test_image.py).
.PHONY: image image_tfserving image_test image_clean docker_build_tfserving

image: ## build the image IMAGE:TAG with podman, no Docker engine or registry (scripts/podman_image.sh)
	scripts/podman_image.sh build $(IMAGE):$(TAG)

image_tfserving: ## build the TF Serving-style image IMAGE-tfserving:TAG with podman (target tfserving)
	scripts/podman_image.sh build $(IMAGE)-tfserving:$(TAG) tfserving

image_test: install ## build both images and run them as SageMaker and TF Serving's image are run (test_image.py)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/functional/test_image.py

image_clean: ## remove the podman images the image targets and tests build, and .cache/image
	podman rmi --ignore localhost/$(IMAGE):$(TAG) localhost/$(IMAGE)-tfserving:$(TAG) localhost/ie-serving:test \
	    localhost/ie-serving-tfserving:test docker.io/library/python:3.11-slim
	rm -rf .cache/image

# The benchmark suite (benchmarks/, not part of `make test`): writes benchmarks/RESULTS.md and
# its plots; `make bench QUICK=1` is a short smoke run written to the system temp directory.
# KServe (the peer) gets its own venv so its pins never touch the server's; the tests use its
# SDK and clients too (tests/kserve_sdk/).
KSERVE_VERSION ?= 0.21.0

.PHONY: bench

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -c constraints.txt -e '.[test,bench]'
	touch $@

$(BENCH_KSERVE_VENV)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(BENCH_KSERVE_VENV)
	$(BENCH_KSERVE_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_KSERVE_VENV)/bin/pip install -q kserve==$(KSERVE_VERSION) \
		openvino==$$($(BIN)/python -c "import importlib.metadata as m; print(m.version('openvino'))")
	touch $@

bench: $(VENV)/.bench-installed $(BENCH_KSERVE_VENV)/.installed ## the benchmark suite into benchmarks/RESULTS.md (QUICK=1: a short smoke run)
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick)

# A 10-minute soak (mixed gRPC + REST load, versions swapped every 30 s; not in CI), written
# to benchmarks/SOAK.md; and TensorFlow's own runtime against this server on one SavedModel.
.PHONY: soak bench_tf bench_metrics bench_images bench_classify bench_batching bench_v2

soak: install ## a 10-minute soak test into benchmarks/SOAK.md
	$(BIN)/python -m benchmarks.soak --minutes 10 --report benchmarks/SOAK.md

bench_tf: install $(TF_VENV)/.installed ## TensorFlow's runtime against this server into benchmarks/TF_VS_SERVER.md
	IE_SERVING_TF_PYTHON=$(CURDIR)/$(TF_VENV)/bin/python $(BIN)/python -m benchmarks.tf_vs_server --report benchmarks/TF_VS_SERVER.md

bench_v2: $(VENV)/.bench-installed $(BENCH_KSERVE_VENV)/.installed ## KServe v2 on `cnn` beside TF Serving gRPC and KServe's own server into benchmarks/V2_RESULTS.md
	$(BIN)/python -m benchmarks.v2_compare

bench_metrics: install ## the cost of Prometheus metrics on the tiny model's gRPC p50 (docs/performance.md)
	$(BIN)/python -m benchmarks.metrics_overhead --rounds 20 --requests 1500

bench_images: $(VENV)/.bench-installed ## JPEG over gRPC DT_STRING and /invocations against float32 tensors into benchmarks/IMAGES.md
	$(BIN)/python -m benchmarks.images --report benchmarks/IMAGES.md
bench_classify: install ## gRPC Classify against Predict of the same examples, batch 1/16/256 (docs/performance.md)
	$(BIN)/python -m benchmarks.classify_overhead --rounds 10 --requests 1000
bench_batching: install ## server-side batching on and off side by side (mlp, cnn) into benchmarks/BATCHING.md (docs/performance_tuning.md)
	$(BIN)/python -m benchmarks.batching --rounds 3 --seconds 8 --report benchmarks/BATCHING.md
