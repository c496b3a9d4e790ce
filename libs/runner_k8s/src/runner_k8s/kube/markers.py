"""What the offline views show where a value is never known to them: never the value itself."""

from __future__ import annotations

# A secret config value (`secure:`), which the stack file reader never decrypts.
SECRET_MARKER = "[secret]"
# The token digest where the token was never decrypted (the offline render, mock runs of a stack
# file): the program computes it from the value the engine decrypts.
DEPLOY_TIME_MARKER = "[computed at deploy time]"
