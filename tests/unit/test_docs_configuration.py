"""docs/configuration.md against the code: every flag with its commands and default, every
config key, every environment variable the server reads (with its default)."""

from __future__ import annotations

import argparse
import pathlib
import re

import pytest

from ie_serving.cli import build_parser
from ie_serving.config import MODEL_KEYS
from tests.docs_helpers import CONFIGURATION as DOC
from tests.docs_helpers import REPO, code, table


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def flags() -> dict[str, dict[str, argparse.Action]]:
    """flag -> {subcommand: action} for every option but --help."""
    found: dict[str, dict[str, argparse.Action]] = {}
    for command, parser in subcommands().items():
        for action in parser._actions:
            if action.option_strings and action.option_strings[0] != "-h":
                found.setdefault(action.option_strings[-1], {})[command] = action
    return found


def expected_default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    return "none" if action.default is None else f"`{action.default}`"


def test_every_flag_is_documented_with_its_commands_and_default() -> None:
    documented = {code(row[0]): row for row in table("Command-line flags")}
    actual = flags()
    assert sorted(documented) == sorted(actual)
    for flag, by_command in actual.items():
        row = documented[flag]
        assert [c.strip() for c in row[1].split(",")] == sorted(by_command, key=list(subcommands()).index), flag
        (default,) = {expected_default(a) for a in by_command.values()}
        assert row[2] == default, (flag, row[2], default)
        assert len(row[3]) > 15, flag


def test_every_config_key_is_documented_with_its_flag() -> None:
    rows = table("Config file keys")
    assert [code(row[0]) for row in rows] == list(MODEL_KEYS)
    model_flags = {a.option_strings[-1]: a for a in subcommands()["model"]._actions if a.option_strings}
    documented_flags = {code(row[0]): row for row in table("Command-line flags")}
    for key, flag_cell, default in rows:
        flag = code(flag_cell)
        assert flag in model_flags, key
        assert default == documented_flags[flag][2], key


def environment_reads() -> dict[str, str | None]:
    """NAME -> default for every environment variable the `ie_serving` command reads."""
    reads: dict[str, str | None] = {}
    for path in (REPO / "ie_serving").rglob("*.py"):
        if "protos" in path.parts or "sagemaker" in path.parts:
            continue  # SageMaker's variables have their own table (serve/, formerly ie_serving/sagemaker)
        text = path.read_text()
        for name, default in re.findall(
            r"(?<!request\.)environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"(?:\s*,\s*\"([^\"]*)\")?", text
        ):
            if reads.get(name) is None:
                reads[name] = default or None
    return reads


def test_every_environment_variable_read_is_documented_with_its_default() -> None:
    rows = {code(row[0]): row for row in table("Environment variables")}
    reads = environment_reads()
    assert {"LOG_LEVEL", "LOG_PATH", "FILE_SYSTEM_POLL_WAIT_SECONDS", "S3_ENDPOINT"} <= set(reads)
    ours = {name for name, row in rows.items() if row[1] == "ie_serving"}
    assert ours == set(reads), "rows marked ie_serving must be exactly the variables the code reads"
    for name, default in reads.items():
        assert rows[name][2] == (f"`{default}`" if default else "none"), name
    assert {row[1] for row in rows.values()} <= {"ie_serving", "library"}


def test_library_variables_are_read_by_boto3() -> None:
    """Every "library" row names a variable botocore's own source reads."""
    import botocore

    source = "".join(p.read_text() for p in pathlib.Path(botocore.__file__).parent.glob("*.py"))
    library = [code(row[0]) for row in table("Environment variables") if row[1] == "library"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= set(library)
    for name in library:
        assert f"'{name}'" in source, name


def test_aws_region_sets_the_s3_region(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """What the AWS_REGION row says: the server passes it on (boto3 alone would ignore it here)."""
    import boto3

    from ie_serving.storage.cache import VersionCache
    from ie_serving.storage.s3 import S3Storage

    for name in ("AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert boto3.session.Session().region_name is None
    assert S3Storage(VersionCache(tmp_path))._client.meta.region_name == "eu-west-3"


def sagemaker_environment_reads() -> set[str]:
    """SAGEMAKER_* and SM_* names passed to an environ read (environ.get("X"), _int(environ, "X"))
    anywhere in the server's code, wherever the SageMaker entrypoint lives."""
    roots = [REPO / "ie_serving"] + [p for p in (REPO / "serve",) if p.is_dir()]
    names: set[str] = set()
    for root in roots:
        for path in root.rglob("*.py"):
            if "protos" not in path.parts:
                names.update(re.findall(r"environ\b[^\"\n]{0,16}\"((?:SAGEMAKER|SM)_[A-Z0-9_]+)\"", path.read_text()))
    return names


# A value other than the default for each variable, to show that `serve` reads it.
OTHER_VALUES = {
    "SAGEMAKER_BIND_TO_PORT": "8081",
    "SAGEMAKER_GRPC_PORT": "9001",
    "SAGEMAKER_SAFE_PORT_RANGE": "9500-9600",
    "SM_MODEL_DIR": "/elsewhere/model",
    "SAGEMAKER_TFS_DEFAULT_MODEL_NAME": "resnet",
    "SAGEMAKER_MAX_PAYLOAD_IN_MB": "7",
    "SAGEMAKER_GUNICORN_WORKERS": "2",
    "SAGEMAKER_GUNICORN_THREADS": "9",
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": "61",
    "SAGEMAKER_NIREQ": "3",
    "SAGEMAKER_MULTI_MODEL": "true",
    "SAGEMAKER_MULTI_MODEL_DIR": "/elsewhere/models",
    "SAGEMAKER_MAX_MODEL_MEMORY_MB": "100",
    "SAGEMAKER_GUNICORN_TIMEOUT_SECONDS": "61",
    "SAGEMAKER_GUNICORN_LOGLEVEL": "warning",
    "SAGEMAKER_TFS_INTRA_OP_PARALLELISM": "2",
    "SAGEMAKER_TFS_ENABLE_BATCHING": "true",
    "SAGEMAKER_TFS_MAX_BATCH_SIZE": "16",
    "SAGEMAKER_TFS_BATCH_TIMEOUT_MICROS": "500",
    "SAGEMAKER_TFS_NUM_BATCH_THREADS": "3",
    "SAGEMAKER_TFS_MAX_ENQUEUED_BATCHES": "100",
    "SAGEMAKER_BATCH": "true",
    "SAGEMAKER_PROMETHEUS_PATH": "/monitoring/prometheus/metrics",
}


def test_every_sagemaker_variable_is_documented_once_with_its_default() -> None:
    """The SageMaker table lists exactly the variables `serve` reads; setting a variable to its
    documented default changes nothing, and another value changes what `serve` would run with."""
    from serve.settings import from_environ

    rows = table("SageMaker environment variables")
    documented = {code(row[0]): row for row in rows}
    assert len(documented) == len(rows), "a variable is listed twice"
    assert set(documented) == sagemaker_environment_reads()
    assert set(documented) == set(OTHER_VALUES), "give the new variable a value in OTHER_VALUES"
    defaults = from_environ({})
    for name, (_, default, meaning) in documented.items():
        assert len(meaning) > 15, name
        given = "" if default == "none" else code(default)
        assert from_environ({name: given}) == defaults, (name, default)
        assert from_environ({name: OTHER_VALUES[name]}) != defaults, name


def test_variables_are_tabled_only_in_configuration_md() -> None:
    """One table of flags and variables: no other docs page (nor the README) has a table keyed by
    them (a row whose first cell is only `names` of configuration.md's tables); they link here."""
    names = {code(row[0]) for section in ("Command-line flags", "Environment variables") for row in table(section)}
    names |= {code(row[0]) for row in table("SageMaker environment variables")}
    pages = [REPO / "README.md"] + [p for p in (REPO / "docs").glob("*.md") if p != DOC]
    for page in pages:
        for line in page.read_text().splitlines():
            first = line.strip("|").split("|")[0].strip() if line.startswith("|") else ""
            if re.fullmatch(r"(`[^`]+`[\s,/]*)+", first):
                assert not set(re.findall(r"`([^`]+)`", first)) & names, (page.name, line)
