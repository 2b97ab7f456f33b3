"""Which models SM_MODEL_DIR holds, as ModelConfigs for the store.

Accepted layouts (checked in this order):
  config.json                      model_config_list file; relative base paths are under SM_MODEL_DIR
  1/model.xml, 2/model.xml, ...    one model with numeric version directories
  model.xml + model.bin            one model as bare IR files, served as version 1
  .../NAME/1/saved_model.pb, ...   models at any depth, as AWS's container finds them
                                   (tfs_utils.find_models): a numeric directory holding a model
                                   is a version of the model named by its parent directory, e.g.
                                   export/Servo/1700000000/saved_model.pb is model Servo
  NAME/model.xml + NAME/model.bin  bare IR files one level down, one model per sub-directory

As AWS's container does, every version directory found is served (it writes a `specific`
policy with all of them), so tfs-model-version reaches older versions. With several models
and no SAGEMAKER_TFS_DEFAULT_MODEL_NAME, the first by path is the default, and the log says so.

The store reads numeric version directories only, so a bare IR model is presented to it as a
staging directory `<staging>/<name>/1` that is a symlink to the model's directory: the store,
its polling and its fingerprints stay exactly as for any other model. The staging directory is
removed when the process that made it exits.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import pathlib
import shutil
import tempfile

from ie_serving.config import ModelConfig, load_config_file, parse_model
from ie_serving.errors import ConfigError, ModelLoadError
from ie_serving.model_formats import detect

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
CODE_DIR = "code"  # custom inference code, never a model


@dataclasses.dataclass(frozen=True)
class Layout:
    """The models to serve and the one /invocations answers when no model is named."""

    models: tuple[ModelConfig, ...]
    default_model: str | None


def staging_dir(prefix: str) -> pathlib.Path:
    """A new private directory for the links to bare IR models, removed at exit by the process
    that made it (a forked gunicorn worker inherits the hook but leaves its master's directory)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(_remove_if_owner, path, os.getpid())
    return path


def _remove_if_owner(path: pathlib.Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _has_versions(path: pathlib.Path) -> bool:
    return any(p.is_dir() and p.name.isdigit() and int(p.name) > 0 for p in path.iterdir())


def _is_version(path: pathlib.Path) -> bool:
    """A numeric directory holding one model in a served format."""
    if not (path.is_dir() and path.name.isdigit() and int(path.name) > 0):
        return False
    try:
        detect(p.name for p in path.iterdir())
    except ModelLoadError:
        return False
    return True


def _versioned_models(model_dir: pathlib.Path) -> list[pathlib.Path]:
    """Every directory under model_dir (itself included) with a version directory holding a
    model, sorted by path; code/ and hidden directories are skipped, version directories are
    not searched further."""
    found = []
    pending = [model_dir]
    while pending:
        directory = pending.pop()
        children = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
        versions = [child for child in children if _is_version(child)]
        if versions:
            found.append(directory)
        skip = {*versions, model_dir / CODE_DIR}
        pending.extend(child for child in reversed(children) if child not in skip)
    return sorted(found)


def _has_bare_ir(path: pathlib.Path) -> bool:
    suffixes = {p.suffix.lower() for p in path.iterdir() if p.is_file()}
    return {".xml", ".bin"} <= suffixes


def served_dir(path: pathlib.Path) -> pathlib.Path | None:
    """The directory whose files the store loads first for the model in `path`: its highest
    numeric version directory, or `path` itself for bare IR files; None when it holds no model.
    (The multi-model routes size a model's memory from these files.)"""
    if _has_versions(path):
        return max((p for p in path.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    return path if _has_bare_ir(path) else None


def base_path(path: pathlib.Path, name: str, staging: pathlib.Path) -> str | None:
    """The base path the store reads for the model in `path`, or None when it holds no model.

    A bare IR model gets the link `<staging>/<name>/1` -> path, replaced when the name is
    used again (a multi-model endpoint may unload and load a name many times)."""
    if _has_versions(path):
        return str(path)
    if _has_bare_ir(path):
        version_dir = staging / name / "1"
        version_dir.parent.mkdir(parents=True, exist_ok=True)
        if version_dir.is_symlink():
            version_dir.unlink()
        version_dir.symlink_to(path.resolve(), target_is_directory=True)
        log.info("model %s: bare IR files in %s served as version 1", name, path)
        return str(version_dir.parent)
    return None


def _from_config_file(model_dir: pathlib.Path) -> tuple[ModelConfig, ...]:
    models = load_config_file(str(model_dir / CONFIG_FILE))
    return tuple(
        m
        if "://" in m.base_path or pathlib.Path(m.base_path).is_absolute()
        else dataclasses.replace(m, base_path=str(model_dir / m.base_path))
        for m in models
    )


def _from_directories(model_dir: pathlib.Path, single_name: str, staging: pathlib.Path) -> tuple[ModelConfig, ...]:
    """Versioned models at any depth (every version served, as AWS does), and bare IR files in
    model_dir itself or one level down where no versioned model is."""
    every_version = {"all": {}}
    bases = _versioned_models(model_dir)
    found = [(single_name if base == model_dir else base.name, str(base), every_version) for base in bases]
    if not bases and _has_bare_ir(model_dir):
        found.append((single_name, base_path(model_dir, single_name, staging), None))
    holding_versions = {parent for base in bases for parent in (base, *base.parents)}
    for sub in sorted(p for p in model_dir.iterdir() if p.is_dir() and p.name != CODE_DIR and p.name[0] != "."):
        if sub in holding_versions or _is_version(sub):
            continue
        if _has_bare_ir(sub):
            found.append((sub.name, base_path(sub, sub.name, staging), None))
        else:
            log.info("%s: ignored, holds no model in a numeric version directory nor .xml + .bin files", sub)
    names = [name for name, _, _ in found]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        places = [path for name, path, _ in found if name in repeated]
        raise ConfigError(f"SM_MODEL_DIR: several models are named {repeated}, by their directories {places}")
    return tuple(
        parse_model({"name": name, "base_path": path, "model_version_policy": policy}, where=f"SM_MODEL_DIR ({path})")
        for name, path, policy in found
    )


def resolve(model_dir: pathlib.Path, default_name: str | None, nireq: int | None = None) -> Layout:
    """The models in model_dir; ConfigError when there are none or the default names none of them."""
    if not model_dir.is_dir():
        raise ConfigError(f"SM_MODEL_DIR: {str(model_dir)!r} is not a directory")
    if (model_dir / CONFIG_FILE).is_file():
        models = _from_config_file(model_dir)
    else:
        staging = staging_dir("ie_serving_sagemaker_")
        models = _from_directories(model_dir, default_name or "model", staging)
    if not models:
        raise ConfigError(
            f"SM_MODEL_DIR: no model in {str(model_dir)!r}; expected numeric version directories holding "
            f"model.xml + model.bin, bare .xml + .bin files, one such sub-directory per model, or {CONFIG_FILE}"
        )
    if nireq is not None:
        models = tuple(m if m.nireq is not None else dataclasses.replace(m, nireq=nireq) for m in models)
    names = [m.name for m in models]
    if default_name is not None and default_name not in names:
        raise ConfigError(f"SAGEMAKER_TFS_DEFAULT_MODEL_NAME: {default_name!r} is not among the models {names}")
    default = default_name or names[0]  # AWS's container: the first model it finds
    log.info(
        "models in %s: %s; default model: %s%s",
        model_dir,
        ", ".join(names),
        default,
        ""
        if default_name or len(names) == 1
        else " (the first by path; set SAGEMAKER_TFS_DEFAULT_MODEL_NAME to choose)",
    )
    return Layout(models, default)
