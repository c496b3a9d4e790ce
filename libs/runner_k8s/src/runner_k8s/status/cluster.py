"""What the cluster says about a fleet: its Deployment, its pods, and why a pod hangs in
ContainerCreating. Read with lightkube (imported only when a cluster is asked, so the offline
commands never load it); the facts are parsed from the API's JSON shape by pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from runner_k8s.status.model import ClusterFacts, Deployment, Fleet, Pod

if TYPE_CHECKING:
    from lightkube import Client

# The events that say why a pod's volumes are not there yet: a ReadWriteOnce disk attached to
# another node ("Multi-Attach error for volume ...") or a mount that fails.
MOUNT_EVENT_REASONS = frozenset({"FailedAttachVolume", "FailedMount"})


class ClusterError(Exception):
    """The cluster could not be asked; ``str()`` is one operator-facing line."""


class ClusterReader(Protocol):
    def facts(self, fleet: Fleet) -> ClusterFacts: ...


# --- the API's JSON -> facts (pure) -------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def deployment_from_api(obj: Mapping[str, Any]) -> Deployment:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return Deployment(
        desired=int(spec.get("replicas", 1)),
        updated=int(status.get("updatedReplicas", 0)),
        ready=int(status.get("readyReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
    )


def _why_not_running(status: Mapping[str, Any]) -> str | None:
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "waiting" in state:
            return str(state["waiting"].get("reason") or "Waiting")
        if "terminated" in state:
            return f"Terminated: {state['terminated'].get('reason') or 'exited'}"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return str(condition.get("reason") or "Unscheduled")
    reason = status.get("reason")  # Evicted, NodeLost...
    return str(reason) if reason else None


def _last_end(container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """How a container that is not running last ended: its terminated state, or while it waits
    to be restarted, the last one."""
    state = container.get("state") or {}
    if "running" in state:
        return None
    if "terminated" in state:
        return dict(state["terminated"] or {})
    if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
        return dict((container.get("lastState") or {}).get("terminated") or {}) or None
    return None


def _between_jobs_since(phase: str, statuses: list[Mapping[str, Any]]) -> datetime | None:
    """When the runner finished its job, if every container that is not running ended with exit
    code 0 and waits for the kubelet to restart it (an ephemeral runner after its one job)."""
    if phase != "Running":
        return None
    ends = [(_last_end(s), s) for s in statuses if "running" not in (s.get("state") or {})]
    if not ends or any(end is None or end.get("exitCode") != 0 for end, _ in ends):
        return None
    finished = [parse_time(end.get("finishedAt")) for end, _ in ends if end is not None]
    return max((t for t in finished if t is not None), default=None)


def _last_exit(statuses: list[Mapping[str, Any]]) -> str | None:
    for container in statuses:
        end = _last_end(container)
        if end is not None and end.get("exitCode") is not None:
            return f"exit {end['exitCode']} ({end.get('reason') or 'no reason'})"
    return None


def pod_from_api(
    obj: Mapping[str, Any], mount_events: Mapping[str, tuple[str, str]] | None = None
) -> Pod:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    phase = str(status.get("phase") or "Pending")
    started = [
        parse_time((s.get("state") or {}).get("running", {}).get("startedAt")) for s in statuses
    ]
    running = phase == "Running" and bool(statuses) and all(t is not None for t in started)
    waiting = _why_not_running(status)
    created = parse_time(meta.get("creationTimestamp"))
    if created is None:
        raise ValueError(f"pod {meta.get('name')} has no creationTimestamp")
    reason, message = (
        (mount_events or {}).get(meta["name"], (None, None))
        if waiting == "ContainerCreating"
        else (None, None)
    )
    return Pod(
        name=str(meta["name"]),
        phase=phase,
        ready_containers=sum(1 for s in statuses if s.get("ready")),
        containers=len(spec.get("containers") or statuses),
        restarts=sum(int(s.get("restartCount", 0)) for s in statuses),
        created=created,
        running_since=max(t for t in started if t is not None) if running else None,
        waiting=waiting,
        mount_event=message,
        terminating=meta.get("deletionTimestamp") is not None,
        between_jobs_since=None if running else _between_jobs_since(phase, statuses),
        last_exit=None if running else _last_exit(statuses),
        mount_failed=reason == "FailedMount",
    )


def _event_time(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return str(
        event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or ""
    )


def mount_events(events: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Pod name -> (reason, message) of its latest volume attach/mount failure."""
    latest: dict[str, tuple[str, str, str]] = {}
    for event in events:
        target = event.get("involvedObject") or {}
        if target.get("kind") != "Pod" or event.get("reason") not in MOUNT_EVENT_REASONS:
            continue
        when, name = _event_time(event), str(target.get("name"))
        if name not in latest or when >= latest[name][0]:
            message = " ".join(str(event.get("message", "")).split())
            latest[name] = (when, str(event["reason"]), message)
    return {name: (reason, message) for name, (_when, reason, message) in latest.items()}


# --- the reads (imperative shell) ---------------------------------------------------------------


def is_kubeconfig_text(value: str) -> bool:
    """The Pulumi provider's `kubeconfig` is either a path or the file's contents."""
    return "\n" in value or value.lstrip().startswith(("{", "apiVersion"))


def _kubeconfig(value: str | None) -> Any:
    from lightkube import KubeConfig

    if value is None:  # as kubectl and the Pulumi provider: $KUBECONFIG, then ~/.kube/config
        return KubeConfig.from_env()
    if is_kubeconfig_text(value):
        return KubeConfig.from_dict(yaml.safe_load(value))
    return KubeConfig.from_file(Path(value).expanduser())


class KubernetesCluster:
    """One cluster, as a kubeconfig and context name it."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        import httpx2
        from lightkube import Client, ConfigError

        try:
            config = _kubeconfig(kubeconfig).get(context)
            self.server = str(config.cluster.server)
            self._client: Client = Client(config=config, timeout=httpx2.Timeout(15.0))
        except (ConfigError, OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
            raise ClusterError(f"cannot use the kubeconfig: {exc}") from None

    def facts(self, fleet: Fleet) -> ClusterFacts:
        with self.asking(f"a read of {fleet.namespace}/{fleet.name}"):
            facts = self._facts(fleet)
        return facts

    @contextmanager
    def asking(self, what: str) -> Iterator[None]:
        """Every failure of the requests in the block as one ClusterError line; ``what`` says
        what was asked ("a read of ns/name")."""
        import httpx2
        from lightkube import ApiError, ConfigError

        try:
            yield
        except ApiError as exc:
            raise ClusterError(
                f"the cluster at {self.server} refused {what}: "
                f"{exc.status.code} {exc.status.reason}: {exc.status.message}"
            ) from None
        except httpx2.HTTPStatusError as exc:
            # An error answer that is no Kubernetes Status: a proxy or load balancer in front.
            answer = exc.response
            raise ClusterError(
                f"the cluster at {self.server} answered {answer.status_code} "
                f"{answer.reason_phrase} to {what}"
            ) from None
        except httpx2.HTTPError as exc:
            raise ClusterError(f"cannot reach the cluster at {self.server}: {exc}") from None
        except (ConfigError, OSError) as exc:  # e.g. a certificate file the kubeconfig names
            raise ClusterError(f"cannot use the kubeconfig: {exc}") from None
        except ValueError as exc:  # a success answer that is not the object asked for
            raise ClusterError(
                f"the cluster at {self.server} gave an answer that is not Kubernetes': {exc}"
            ) from None

    def _facts(self, fleet: Fleet) -> ClusterFacts:
        from lightkube import ApiError
        from lightkube.resources.apps_v1 import Deployment as DeploymentResource
        from lightkube.resources.core_v1 import Event
        from lightkube.resources.core_v1 import Pod as PodResource

        try:
            deployment = self._client.get(DeploymentResource, fleet.name, namespace=fleet.namespace)
            found: Deployment | None = deployment_from_api(deployment.to_dict())
        except ApiError as exc:
            if exc.status.code != 404:
                raise
            found = None
        pods = [
            p.to_dict()
            for p in self._client.list(
                PodResource, namespace=fleet.namespace, labels=dict(fleet.selector)
            )
        ]
        events: dict[str, tuple[str, str]] = {}
        if any(_why_not_running(p.get("status") or {}) == "ContainerCreating" for p in pods):
            events = mount_events(
                e.to_dict()
                for e in self._client.list(
                    Event, namespace=fleet.namespace, fields={"involvedObject.kind": "Pod"}
                )
            )
        return ClusterFacts(found, tuple(pod_from_api(p, events) for p in pods))
