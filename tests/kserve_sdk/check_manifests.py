"""Check deploy/kserve's manifests field by field against KServe's own API types, as its Python
SDK models them (kserve.models: V1alpha1ClusterServingRuntime, V1beta1InferenceService, and
the Kubernetes types they embed from kubernetes.client.models). Runs with the KServe
environment's Python (.venv-bench-kserve); prints one line per unknown field or wrong type
and exits 1 when there is any."""

from __future__ import annotations

import pathlib
import re
import sys

import kserve.models
import kubernetes.client.models
import yaml

SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object}


def model_class(name: str) -> type:
    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    raise LookupError(name)


def check(value: object, type_name: str, where: str, problems: list[str]) -> None:
    """Report every key of `value` the type does not declare, recursively."""
    listed = re.fullmatch(r"(?:list|List)\[(.+)\]", type_name)
    mapped = re.fullmatch(r"(?:dict|Dict)\((?:str|str), (.+)\)|(?:dict|Dict)\[str, (.+)\]", type_name)
    if listed:
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {value!r}")
            return
        for index, item in enumerate(value):
            check(item, listed.group(1), f"{where}[{index}]", problems)
    elif mapped:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {value!r}")
            return
        for key, item in value.items():
            check(item, mapped.group(1) or mapped.group(2), f"{where}.{key}", problems)
    elif type_name in SCALARS:
        if not isinstance(value, SCALARS[type_name]):
            problems.append(f"{where}: expected {type_name}, got {value!r}")
    else:
        cls = model_class(type_name)
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a {type_name} object, got {value!r}")
            return
        by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
        for key, item in value.items():
            if key not in by_json:
                problems.append(f"{where}.{key}: not a field of {type_name}")
                continue
            check(item, cls.openapi_types[by_json[key]], f"{where}.{key}", problems)


def main(directory: str) -> int:
    kinds = {"ClusterServingRuntime": "V1alpha1ClusterServingRuntime", "InferenceService": "V1beta1InferenceService"}
    problems: list[str] = []
    checked = 0
    for path in sorted(pathlib.Path(directory).glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            check(document, kinds[document["kind"]], f"{path.name}:{document['kind']}", problems)
            checked += 1
    print("\n".join(problems) or f"{checked} documents: every field is KServe's")
    return 1 if problems or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
