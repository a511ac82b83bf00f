"""How the run deploys the function: its canary secrets and the settings that make
faults happen often enough to matter (small batches, short timeouts and tokens)."""

from __future__ import annotations

# Canaries: recognisable values for every secret, searched for in everything the
# function printed or answered. The token prefix makes every bearer token findable.
CANARY_AK = "AKloadcanary3c9e1f07"
CANARY_SK = "SKloadcanary81d4b6a2"
CANARY_API_KEY = "APIKEYloadcanary5e07c3"
CANARY_TOKEN_PREFIX = "TOKENloadcanary"
CANARIES = (CANARY_AK, CANARY_SK, CANARY_API_KEY, CANARY_TOKEN_PREFIX)

CREDENTIALS_SECRET = "projects/load-test/secrets/cec-credentials"
CEC_TIMEOUT_SECONDS = 1.0
# Small batches: requests of several dnids span batches, so a fault in a later batch
# (that batch "error", the rest "not_sent") happens, not only single-batch answers.
BATCH_SIZE = 3
# Tokens live this long in the simulator, so the function renews one every few
# seconds and the token stage keeps meeting faults during the run.
SIM_TOKEN_LIFETIME = 4
