#!/usr/bin/env bash
# Send PAYLOAD to a local endpoint's /invocations and print the answer.
#   local_test/predict.sh [--no-docker] PAYLOAD [CONTENT_TYPE] [ACCEPT]
#   local_test/predict.sh local_test/payloads/payload.json    # after local_test/serve_local.sh
# local_test/payloads/ holds one sample body per content type for local_test/test_dir's model
# (x float32 [-1, 4] -> y = 2x + 1): payload.json, .jsonl, .csv, .npy, .npz.
# CONTENT_TYPE defaults from the extension: .json application/json, .jsonl application/jsonlines,
# .csv text/csv, .npy application/x-npy, .npz application/x-npz. The endpoint is
# localhost:${SAGEMAKER_BIND_TO_PORT:-8080} either way (--no-docker is accepted for symmetry
# with serve_local.sh). Exits non-zero when the answer is not 200.
set -euo pipefail
args=()
for arg in "$@"; do
    [ "$arg" = --no-docker ] || args+=("$arg")
done
if [ "${#args[@]}" -lt 1 ]; then
    echo "usage: $0 [--no-docker] PAYLOAD [CONTENT_TYPE] [ACCEPT]" >&2
    echo "  e.g. $0 local_test/payloads/payload.json (samples: local_test/payloads/payload.{json,jsonl,csv,npy,npz})" >&2
    exit 2
fi
payload=${args[0]}
if [ ! -f "$payload" ]; then
    echo "$0: $payload: no such file (samples: local_test/payloads/payload.{json,jsonl,csv,npy,npz})" >&2
    exit 2
fi
case "$payload" in
    *.json) default_type=application/json ;;
    *.jsonl) default_type=application/jsonlines ;;
    *.csv) default_type=text/csv ;;
    *.npy) default_type=application/x-npy ;;
    *.npz) default_type=application/x-npz ;;
    *) default_type=application/json ;;
esac
content_type=${args[1]:-$default_type}
accept=${args[2]:-application/json}
curl --silent --show-error --fail-with-body \
    -H "Content-Type: $content_type" -H "Accept: $accept" \
    --data-binary "@$payload" "http://localhost:${SAGEMAKER_BIND_TO_PORT:-8080}/invocations"
echo
