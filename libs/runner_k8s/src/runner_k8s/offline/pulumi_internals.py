"""The private parts of the Pulumi SDK that the mock runs need, behind one small surface.

The SDK's mocks cover a single program per process; running the stacks one after another (a
runner stack answers its StackReference with a mock run of the shared stack) needs a reset of
the SDK's global state, a synchronous wait on the program, and a way to tell a serialized
secret. None of that is public API, and ``runner-k8s`` accepts any ``pulumi>=3.190,<4``. So
every private name is looked up here, once, and a missing one raises ``SdkChanged`` naming it
and the installed SDK version (``tests/test_pulumi_internals.py`` exercises each on every run).
"""

from __future__ import annotations

from collections.abc import Awaitable
from importlib.metadata import version
from typing import Any, TypeVar

T = TypeVar("T")


class SdkChanged(RuntimeError):
    """The installed Pulumi SDK no longer has a private name the mock runs rely on."""


def _private(module: str, name: str) -> Any:
    try:
        imported = __import__(module, fromlist=[name])
        return getattr(imported, name)
    except (ImportError, AttributeError):
        raise SdkChanged(
            f"pulumi {version('pulumi')} has no {module}.{name}, which gh-runner's mock runs use "
            "(runner_k8s/pulumi_internals.py); pin pulumi to a version that has it or adapt "
            "that module"
        ) from None


_SETTINGS = _private("pulumi.runtime.settings", "SETTINGS")
_set_root_resource = _private("pulumi.runtime.settings", "set_root_resource")
_sync_await = _private("pulumi.runtime.sync_await", "_sync_await")
_SECRET_SIG_KEY: str = _private("pulumi.runtime.rpc", "_special_sig_key")
_SECRET_SIG: str = _private("pulumi.runtime.rpc", "_special_secret_sig")


def reset_runtime() -> None:
    """Forget what an earlier program left in the SDK's globals: pending RPCs, stack outputs
    and the root stack resource (the next ``run_in_stack`` makes a fresh one)."""
    _SETTINGS.rpc_manager.clear()
    _SETTINGS.outputs.clear()
    _set_root_resource(None)


def wait_for(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on the SDK's own event loop, as the language host does."""
    result: T = _sync_await(awaitable)
    return result


def secret_payload(value: Any) -> tuple[bool, Any]:
    """(True, the wrapped value) for a deserialized secret, (False, ``value``) otherwise."""
    if isinstance(value, dict) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG:
        return True, value.get("value")
    return False, value
