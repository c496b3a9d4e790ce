"""Every exit code of every ``gh-runner`` command, in one place.

Scripts gate on these (CI on ``diff``, a deploy job on ``status``), so they are part of the
contract: 0 all is well, 1 the answer is "no" (drift, a degraded fleet), 2 the question could not
be answered (bad config or arguments, an unreachable cluster or GitHub).
"""

OK = 0
# `diff`: the objects differ. `status`: a fleet is not serving as configured.
DRIFT = 1
DEGRADED = 1
# Bad config, bad arguments or unreadable input: one line per problem on stderr.
BAD_INPUT = 2
# `status`: the cluster or GitHub could not be asked (or refused the token).
UNREACHABLE = 2
