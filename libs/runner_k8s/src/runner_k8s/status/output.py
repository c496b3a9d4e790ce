"""What ``gh-runner status`` prints: the table and the JSON of a report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from runner_k8s.status.judge import human_age
from runner_k8s.status.model import FleetReport, Pod, Report, Row, Runner, Verdict

# --- output ------------------------------------------------------------------------------------


def _runner_state(runner: Runner | None) -> str:
    if runner is None:
        return "-"
    if not runner.online:
        return "offline, busy" if runner.busy else "offline"
    return "online, busy" if runner.busy else "online, idle"


def _verdict_text(row: Row) -> str:
    if row.verdict is Verdict.SERVING and row.runner is not None:
        return "serving (busy)" if row.runner.busy else "serving (idle)"
    return str(row.verdict)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_fleet(report: FleetReport, now: datetime) -> list[str]:
    fleet = report.fleet
    state = "healthy" if report.healthy else "DEGRADED"
    between = f", {report.between_jobs} between jobs" if report.between_jobs else ""
    lines = [
        f"{fleet.name}: {state}, {report.serving} of {fleet.replicas} serving{between}  "
        f"({fleet.stack})"
    ]
    where = f"  Deployment {fleet.namespace}/{fleet.name}"
    d = report.deployment
    if d is None:
        lines.append(f"{where}: not found")
    else:
        lines.append(
            f"{where}: {d.desired} desired, {d.updated} updated, {d.ready} ready, "
            f"{d.available} available"
        )
    lines.append(
        f"  GitHub {fleet.scope} ({fleet.api}), labels: {', '.join(fleet.labels) or '(none)'}"
    )
    cells = [["POD / RUNNER", "STATUS", "READY", "RESTARTS", "AGE", "GITHUB", "VERDICT"]]
    for row in report.rows:
        pod = row.pod
        cells.append(
            [
                row.name,
                (pod.waiting or pod.phase) if pod else "-",
                f"{pod.ready_containers}/{pod.containers}" if pod else "-",
                str(pod.restarts) if pod else "-",
                human_age(now - pod.created) if pod else "-",
                _runner_state(row.runner),
                _verdict_text(row),
            ]
        )
    if report.rows:
        lines += ["  " + line for line in _table(cells)]
    else:
        lines.append("  no pods, no registrations")
    lines += [f"  - {problem}" for problem in report.problems]
    lines += [f"  note: {note}" for note in report.notes]
    return lines


def format_report(report: Report) -> str:
    blocks = ["\n".join(format_fleet(f, report.now)) for f in report.fleets]
    degraded = [f.fleet.name for f in report.fleets if not f.healthy]
    if degraded:
        summary = f"degraded: {', '.join(degraded)}"
    else:
        serving = sum(f.serving for f in report.fleets)
        between = sum(f.between_jobs for f in report.fleets)
        summary = f"healthy: {len(report.fleets)} fleet(s), {serving} runner(s) serving"
        summary += f", {between} between jobs" if between else ""
    return "\n\n".join([*blocks, summary]) + "\n"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _pod_record(pod: Pod, now: datetime) -> dict[str, Any]:
    return {
        "phase": pod.phase,
        "ready": pod.containers > 0 and pod.ready_containers == pod.containers,
        "readyContainers": pod.ready_containers,
        "containers": pod.containers,
        "restarts": pod.restarts,
        "created": _iso(pod.created),
        "ageSeconds": int((now - pod.created).total_seconds()),
        "runningSince": _iso(pod.running_since),
        "waiting": pod.waiting,
        "mountEvent": pod.mount_event,
        "terminating": pod.terminating,
        "betweenJobsSince": _iso(pod.between_jobs_since),
        "lastExit": pod.last_exit,
    }


def _runner_record(runner: Runner) -> dict[str, Any]:
    return {
        "id": runner.id,
        "name": runner.name,
        "status": "online" if runner.online else "offline",
        "busy": runner.busy,
        "ephemeral": runner.ephemeral,
        "labels": list(runner.labels),
        "systemLabels": list(runner.system_labels),
    }


def report_record(report: Report) -> dict[str, Any]:
    """The same facts as the table, for scripts (``--format json``)."""
    fleets = []
    for f in report.fleets:
        d = f.deployment
        fleets.append(
            {
                "name": f.fleet.name,
                "stack": f.fleet.stack,
                "namespace": f.fleet.namespace,
                "selector": dict(f.fleet.selector),
                "scope": {"kind": f.fleet.scope.kind, "name": f.fleet.scope.name},
                "githubApi": f.fleet.api,
                "replicas": f.fleet.replicas,
                "labels": list(f.fleet.labels),
                "deployment": None
                if d is None
                else {
                    "desired": d.desired,
                    "updated": d.updated,
                    "ready": d.ready,
                    "available": d.available,
                },
                "serving": f.serving,
                "healthy": f.healthy,
                "betweenJobs": f.between_jobs,
                "problems": list(f.problems),
                "notes": list(f.notes),
                "rows": [
                    {
                        "name": row.name,
                        "verdict": str(row.verdict),
                        "pod": None if row.pod is None else _pod_record(row.pod, report.now),
                        "runner": None if row.runner is None else _runner_record(row.runner),
                        "problem": row.problem,
                        "note": row.note,
                    }
                    for row in f.rows
                ],
            }
        )
    return {
        "healthy": report.healthy,
        "checkedAt": _iso(report.now),
        "graceSeconds": int(report.grace.total_seconds()),
        "fleets": fleets,
    }


def format_json(report: Report) -> str:
    return json.dumps(report_record(report), indent=2) + "\n"
