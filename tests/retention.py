"""What one `pulumi up` writes to its stack's state file, measured, and how many updates back
the state bucket must let an operator go: the figures the bootstrap's
`bucket.noncurrentVersions.newerVersions` default rests on.

The DIY backend rewrites `.pulumi/stacks/<project>/<stack>.json` after every step of an update,
so each `up` leaves several noncurrent versions of it, not one. The state tier measures that on
the repository's own stacks (tests/state/test_state.py::test_generations_per_update, which
fails once an `up` writes more than recorded here); tests/test_bootstrap_retention.py ties the
default to it without any binary.
"""

from __future__ import annotations

# The most generations of its stack file one `up` of shared, codex-runner or gemini-runner wrote,
# with Pulumi 3.274 on a gs:// bucket: a first `up` of a runner stack. Measured: first up 10
# (shared) and 14 (each runner); a config change that replaces the namespaced objects 5 and 8;
# a no-op 1 and 3 (a runner stack reads its StackReference on every update).
STACK_FILE_WRITES_PER_UPDATE = 14
# The state from before each of this many updates must survive the count rule.
UPDATES_KEPT = 10
