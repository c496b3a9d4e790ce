"""Each class of bad config through the real CLI, as an operator meets it: `gh-runner render` on
a scratch copy of the stacks exits 2, names the file and the key on stderr, prints no traceback
and no YAML."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stack_fixtures import EditConfig
from test_cli import gh_runner

Config = dict[str, Any]


def runner(**changes: Any) -> Callable[[Config], None]:
    return lambda config: config["runner"].update(changes)


def shared(**changes: Any) -> Callable[[Config], None]:
    return lambda config: config.update(changes)


SECRET = {"name": "ssh", "secretName": "runner-ssh", "mountPath": "/home/runner/.ssh"}

# (class, stack edited, the edit, the key stderr names)
CLASSES: list[tuple[str, str, Callable[[Config], None], str]] = [
    (
        "quantity",
        "codex-runner",
        runner(resources={"requests": {"cpu": "-1"}}),
        "runner.resources.requests.cpu: '-1' must not be negative",
    ),
    (
        "resource name",
        "codex-runner",
        runner(resources={"limits": {"cpuu": "1"}}),
        "runner.resources.limits.cpuu: 'cpuu' is not a container resource",
    ),
    ("int32", "codex-runner", runner(replicas=2**31), "runner.replicas: must be <= 2147483647"),
    (
        "int64",
        "gemini-runner",
        runner(terminationGracePeriodSeconds=2**64),
        "runner.terminationGracePeriodSeconds: must be <= 9223372036854775807",
    ),
    (
        "label",
        "codex-runner",
        runner(nodeSelector={"pool": "bad value!"}),
        "runner.nodeSelector.pool: 'bad value!' is not a valid label value",
    ),
    (
        "annotation",
        "codex-runner",
        runner(podAnnotations={"-x/y": "1"}),
        "runner.podAnnotations.-x/y: '-x/y' is not a valid annotation key",
    ),
    (
        "toleration",
        "codex-runner",
        runner(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
        "runner.tolerations[0].value: must be empty when operator is Exists",
    ),
    (
        "key path",
        "codex-runner",
        runner(secretMounts=[{**SECRET, "items": [{"key": "id", "path": "../id"}]}]),
        "runner.secretMounts[0].items[0].path: '../id' must not contain a '..' element",
    ),
    (
        "image",
        "gemini-runner",
        runner(image="ghcr.io/Spigell/runner:2.329.0"),
        "runner.image: 'ghcr.io/Spigell/runner:2.329.0' is not an image reference",
    ),
    (
        "port",
        "codex-runner",
        runner(networkPolicy={"enabled": True, "extraEgress": [{"ports": [{"port": 70000}]}]}),
        "runner.networkPolicy.extraEgress[0].ports[0].port: must be between 1 and 65535",
    ),
    (
        "schema",
        "codex-runner",
        runner(affinity={"nodeAffinity": {"nodeSelectorTermz": []}}),
        "runner.affinity.nodeAffinity.nodeSelectorTermz: unknown field",
    ),
    (
        "schema egress",
        "codex-runner",
        runner(networkPolicy={"extraEgress": [{"to": [{"ipBlok": {"cidr": "10.0.0.0/8"}}]}]}),
        "runner.networkPolicy.extraEgress[0].to[0].ipBlok: unknown field",
    ),
    (
        "default mode",
        "codex-runner",
        runner(secretMounts=[{**SECRET, "defaultMode": "0440"}]),
        "runner.secretMounts[0].defaultMode: '0440' must be an integer, not a string",
    ),
    (
        "mount path",
        "codex-runner",
        runner(workVolume={"name": "work", "mountPath": "/home/runner/.codex/"}),
        "runner.workVolume.mountPath: duplicate mount path '/home/runner/.codex'",
    ),
    (
        "home",
        "gemini-runner",
        lambda c: c["runner"].pop("pvcMounts"),
        "runner.pvcMounts: is required",
    ),
    (
        "env",
        "codex-runner",
        runner(env={"API_KEY": {"secretKeyRef": {"name": "k"}}}),
        "runner.env.API_KEY.secretKeyRef.key: is required",
    ),
    (
        "flattened key",
        "codex-runner",
        lambda c: c.update({"runner.replicas": 3}),
        "runner.replicas: unknown key; to set a nested value use `pulumi config set --path",
    ),
    (
        "codex key",
        "codex-runner",
        lambda c: c["runner"]["codexConfigMount"].update(key="x.toml"),
        "runner.codexConfigMount.key: 'x.toml' is not a key of the shared ConfigMap",
    ),
    (
        "managed token",
        "shared",
        lambda c: c["secretRefs"]["managedToken"].update(name="github-runner-config"),
        "secretRefs.managedToken.name: 'github-runner-config' is the Secret of",
    ),
    (
        "repository",
        "shared",
        shared(githubRepo="my-reforge-ai/.."),
        "githubRepo: 'my-reforge-ai/..' names no repository",
    ),
    (
        "configmap size",
        "shared",
        lambda c: c["codexConfig"].update(configToml="# " + "x" * 1024 * 1024 + "\n"),
        "codexConfig.configToml: 1048590 bytes with its key, over the 1 MiB",
    ),
]


@pytest.mark.parametrize(
    ("stack", "edit", "expected"),
    [pytest.param(s, e, x, id=c) for c, s, e, x in CLASSES],
)
def test_bad_config_exits_2_naming_file_and_key(
    repo_copy: Path,
    edit_config: EditConfig,
    stack: str,
    edit: Callable[[Config], None],
    expected: str,
) -> None:
    edit_config(repo_copy, stack, edit)
    result = gh_runner("render", cwd=repo_copy)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert f"stacks/{stack}/Pulumi.dev.yaml: {expected}" in result.stderr
    assert "Traceback" not in result.stderr


def _lines(result: Any) -> list[str]:
    """stderr of a refused render, one problem a line, each with the command's name in front
    (returned without it)."""
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert "Traceback" not in result.stderr
    lines: list[str] = result.stderr.splitlines()
    assert all(line.startswith("gh-runner: ") for line in lines), lines
    return [line.removeprefix("gh-runner: ") for line in lines]


def test_every_problem_of_every_stack_at_once(repo_copy: Path, edit_config: EditConfig) -> None:
    edit_config(repo_copy, "codex-runner", runner(replicas=-1, image="Upper/Case:1"))
    edit_config(repo_copy, "gemini-runner", runner(nodeSelector={"a": "-", "b/c/d": "x"}))
    result = gh_runner("render", cwd=repo_copy)
    assert result.returncode == 2
    lines = _lines(result)
    assert [line.split(": ")[1] for line in lines] == [
        "runner.image",
        "runner.replicas",
        "runner.nodeSelector.a",
        "runner.nodeSelector.b/c/d",
    ]


def test_two_fleets_of_one_name_are_refused_naming_both_files(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "gemini-runner", runner(name="codex-gh-runner"))
    result = gh_runner("render", cwd=repo_copy)
    assert result.returncode == 2
    assert (
        "stacks/gemini-runner/Pulumi.dev.yaml: Deployment my-reforge-ai/codex-gh-runner is also "
        "created by stacks/codex-runner/Pulumi.dev.yaml"
    ) in result.stderr
    assert "Traceback" not in result.stderr


def _copy_stack(root: Path, name: str, stack: str) -> Path:
    directory = root / "stacks" / name
    shutil.copy(directory / "Pulumi.dev.yaml", directory / f"Pulumi.{stack}.yaml")
    return directory / f"Pulumi.{stack}.yaml"


def test_a_prod_copy_that_still_reads_the_dev_shared_stack_is_refused(repo_copy: Path) -> None:
    for name in ("shared", "codex-runner", "gemini-runner"):
        _copy_stack(repo_copy, name, "prod")
    assert gh_runner("render", "--stack", "prod", cwd=repo_copy).returncode == 0
    prod = repo_copy / "stacks" / "codex-runner" / "Pulumi.prod.yaml"
    text = prod.read_text().replace(
        "# sharedStack: organization/gh-runner-shared/dev",
        "sharedStack: organization/gh-runner-shared/dev",
    )
    prod.write_text(text)
    result = gh_runner("render", "--stack", "prod", cwd=repo_copy)
    assert result.returncode == 2
    assert (
        "stacks/codex-runner/Pulumi.prod.yaml: sharedStack: 'organization/gh-runner-shared/dev' "
        "is the shared stack of 'dev', not of this stack 'prod'"
    ) in result.stderr
    # status loads the fleet as render does: refused alike, before any cluster or GitHub is asked.
    status = gh_runner("status", "--stack", "prod", "--repo", "acme/app", cwd=repo_copy)
    assert (status.returncode, status.stdout) == (2, "")
    assert "sharedStack: 'organization/gh-runner-shared/dev' is the shared stack" in status.stderr
    # The program itself refuses it too (here in a mock run), before registering anything.
    program = gh_runner(
        "render", "--format", "resources", "--stack", "prod", "stacks/codex-runner", cwd=repo_copy
    )
    assert (program.returncode, program.stdout) == (2, "")
    assert "sharedStack: 'organization/gh-runner-shared/dev' is the shared stack" in program.stderr
    prod.write_text(text.replace("config:\n", "config:\n  allowCrossStack: true\n", 1))
    assert gh_runner("render", "--stack", "prod", cwd=repo_copy).returncode == 0
    # The program too, which gets the top-level boolean from the engine as the text "true".
    program = gh_runner("mock-run", "--stack", "prod", "stacks/codex-runner", cwd=repo_copy)
    assert program.returncode == 0, program.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda text: text.replace("config:\n", "config:\n  runner: {}\n", 1),
            "stacks/gemini-runner/Pulumi.dev.yaml: is not valid YAML: "
            "duplicate key 'runner' (line ",
        ),
        (
            lambda text: text.replace("  runner:\n", "  gh-runner-gemni:extra: 1\n  runner:\n", 1),
            "gh-runner-gemni:extra: unknown namespace 'gh-runner-gemni', read by nothing "
            "(this project is gh-runner-gemini; did you mean gh-runner-gemini:extra?)",
        ),
        (
            lambda text: "- just\n- a list\n",
            "stacks/gemini-runner/Pulumi.dev.yaml: must be a mapping (config: ...)",
        ),
        (
            lambda text: "a scalar\n",
            "stacks/gemini-runner/Pulumi.dev.yaml: must be a mapping (config: ...)",
        ),
        (
            lambda text: text.replace(
                "    env: {}", "    env:\n      FOO:\n        secure: v1:Y2lwaGVy", 1
            ),
            "stacks/gemini-runner/Pulumi.dev.yaml: runner.env.FOO: holds a secret value",
        ),
    ],
    ids=["duplicate key", "misspelt prefix", "list", "scalar", "secret in env"],
)
def test_a_malformed_stack_file_is_one_clear_line(
    repo_copy: Path, change: Callable[[str], str], expected: str
) -> None:
    path = repo_copy / "stacks" / "gemini-runner" / "Pulumi.dev.yaml"
    path.write_text(change(path.read_text()))
    result = gh_runner("render", cwd=repo_copy)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_kms_rotation_over_100_years_is_refused(repo_copy: Path, edit_config: EditConfig) -> None:
    edit_config(repo_copy, "bootstrap", lambda c: c["kms"].update(rotationPeriod="3153600001s"))
    result = gh_runner("render", "--format", "resources", "stacks/bootstrap", cwd=repo_copy)
    assert (result.returncode, result.stdout) == (2, "")
    assert "kms.rotationPeriod: '3153600001s' is over Cloud KMS's 100-year cap" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_mcp_token_switched_off_leaves_github_token_out(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "shared", lambda c: c["secretRefs"].update(mcpToken=None))
    result = gh_runner("render", cwd=repo_copy)
    assert result.returncode == 0, result.stderr
    assert "GITHUB_PAT" in result.stdout
    assert "GITHUB_TOKEN" not in result.stdout


# --- every problem in one pass, exactly as the operator reads it -------------------------------

SECRET_VALUE = {"secure": "v1:Zm9v:YmFy"}


def test_a_misspelt_prefix_does_not_hide_a_plaintext_token(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    def change(config: Config) -> None:
        config["gh-runner-shard:namespace"] = config.pop("namespace")
        config["githubToken"] = "ghp_plaintext"

    edit_config(repo_copy, "shared", change)
    shared = "stacks/shared/Pulumi.dev.yaml"
    assert _lines(gh_runner("render", "stacks/shared", cwd=repo_copy)) == [
        f"{shared}: gh-runner-shard:namespace: unknown namespace 'gh-runner-shard', read by "
        "nothing (this project is gh-runner-shared; did you mean gh-runner-shared:namespace?)",
        f"{shared}: githubToken: must be a Pulumi secret; remove it and set it again with "
        "`pulumi config set --secret githubToken` (plaintext values are refused)",
    ]


def test_a_secret_in_env_does_not_hide_a_bad_value_or_a_missing_key(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    def change(config: Config) -> None:
        config["runner"].update(env={"API_KEY": SECRET_VALUE}, replicas=-1)
        del config["runner"]["pvcMounts"]

    edit_config(repo_copy, "codex-runner", change)
    codex = "stacks/codex-runner/Pulumi.dev.yaml"
    assert _lines(gh_runner("render", "stacks/shared", "stacks/codex-runner", cwd=repo_copy)) == [
        f"{codex}: runner.env.API_KEY: holds a secret value, which would be written into the "
        "cluster in plain text; keep secrets in a Kubernetes Secret instead (runner.secretMounts, "
        "or runner.env.NAME: {secretKeyRef: {name, key}})",
        f"{codex}: runner.replicas: must be >= 0",
        f"{codex}: runner.pvcMounts: is required: list the home claims to mount, e.g. [{{name: "
        "home, claimName: codex-gh-runner-home, mountPath: /home/runner}], or write [] for none",
    ]


def test_a_type_error_does_not_hide_a_rule_across_keys(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    # replicas fails to parse; the work volume, which did parse, reuses the home volume's name.
    edit_config(
        repo_copy,
        "codex-runner",
        runner(replicas="two", workVolume={"name": "codex-home", "mountPath": "/w"}),
    )
    codex = "stacks/codex-runner/Pulumi.dev.yaml"
    assert _lines(gh_runner("render", "stacks/shared", "stacks/codex-runner", cwd=repo_copy)) == [
        f"{codex}: runner.replicas: must be an integer",
        f"{codex}: runner.workVolume.name: duplicate volume name 'codex-home' (also used by "
        "runner.pvcMounts[0].name)",
    ]


def test_network_policy_values_the_api_server_refuses(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    policy = {
        "enabled": True,
        "privateRanges": ["0.0.0.0/0"],
        "extraEgress": [
            {"to": [{"ipBlock": {"cidr": "not-a-cidr"}}], "ports": [{"protocol": "ICMP"}]},
            {"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]},
            {"ports": [{"port": 8080, "endPort": 8000}, {"port": "https", "endPort": 500}]},
        ],
    }
    edit_config(repo_copy, "codex-runner", runner(networkPolicy=policy))
    at = "stacks/codex-runner/Pulumi.dev.yaml: runner.networkPolicy"
    assert _lines(gh_runner("render", "stacks/shared", "stacks/codex-runner", cwd=repo_copy)) == [
        f"{at}.privateRanges[0]: '0.0.0.0/0' is the internet rule's own cidr (0.0.0.0/0): the "
        "API server refuses an ipBlock except that is not strictly inside its cidr",
        f"{at}.extraEgress[0].ports[0].protocol: 'ICMP' is not supported: use TCP, UDP or SCTP",
        f"{at}.extraEgress[0].to[0].ipBlock.cidr: 'not-a-cidr' is not a CIDR range such as "
        "10.0.0.0/8 or 2001:db8::/64",
        f"{at}.extraEgress[1].to[0].ipBlock.except[0]: '10.0.0.0/8' must lie strictly inside the "
        "ipBlock's cidr 10.0.0.0/8 (a smaller range of the same IP family, not the cidr itself): "
        "the API server refuses it",
        f"{at}.extraEgress[2].ports[0].endPort: must be greater than or equal to port (8080)",
        f"{at}.extraEgress[2].ports[1].endPort: not allowed with a named port ('https')",
    ]


def test_a_missing_stack_file_says_to_copy_the_dev_file_first(repo_copy: Path) -> None:
    assert _lines(gh_runner("render", "--stack", "prod", "stacks/shared", cwd=repo_copy)) == [
        "stacks/shared/Pulumi.prod.yaml: no such stack file; copy the dev file first, then "
        "create the stack: cd stacks/shared && cp Pulumi.dev.yaml Pulumi.prod.yaml && pulumi "
        "stack init prod (with the secrets provider of docs/operations.md, Create the stacks)"
    ]
