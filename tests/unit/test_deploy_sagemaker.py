"""The README's SageMaker autoscaling commands, validated offline against botocore's
Application Auto Scaling API model (no AWS call)."""

import json
import pathlib
import re
import shlex

import botocore.session
from botocore.validate import ParamValidator

REPO = pathlib.Path(__file__).resolve().parents[2]


def _commands() -> list[list[str]]:
    section = (REPO / "docs" / "sagemaker.md").read_text().split("### Autoscaling\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def _params(words: list[str]) -> dict:
    """--kebab-case flags to the API's PascalCase parameters; file:// values are read."""
    params = {}
    for flag, value in zip(words[3::2], words[4::2], strict=True):
        name = "".join(part.capitalize() for part in flag.removeprefix("--").split("-"))
        if value.startswith("file://"):
            value = json.loads((REPO / value.removeprefix("file://")).read_text())
        elif re.fullmatch(r"\d+", value):
            value = int(value)
        params[name] = value
    return params


def test_autoscaling_commands_match_the_api():
    model = botocore.session.get_session().get_service_model("application-autoscaling")
    commands = _commands()
    assert [c[:3] for c in commands] == [
        ["aws", "application-autoscaling", "register-scalable-target"],
        ["aws", "application-autoscaling", "put-scaling-policy"],
    ]
    for words in commands:
        operation = "".join(part.capitalize() for part in words[2].split("-"))
        report = ParamValidator().validate(_params(words), model.operation_model(operation).input_shape)
        assert not report.has_errors(), report.generate_report()
    policy = _params(commands[1])["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
