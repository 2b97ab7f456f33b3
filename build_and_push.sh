#!/usr/bin/env bash
# Build the SageMaker serving image and push it to ECR (the repository is created when missing).
#   ./build_and_push.sh IMAGE [TAG] [--dry-run]
# --dry-run prints every docker and aws command instead of running it. AWS_REGION (default: the
# AWS CLI's configured region) and AWS_ACCOUNT_ID (default: the caller's account) pick the registry.
set -euo pipefail
dry_run=false
args=()
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=true ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) args+=("$arg") ;;
    esac
done
if [ "${#args[@]}" -lt 1 ] || [ "${#args[@]}" -gt 2 ]; then
    echo "usage: $0 IMAGE [TAG] [--dry-run]" >&2
    exit 2
fi
image=${args[0]}
tag=${args[1]:-latest}
cd "$(dirname "$0")"

run() {  # print the command; run it unless --dry-run
    echo "+ $*"
    if ! $dry_run; then "$@"; fi
}
# the value a command prints, or a placeholder in a dry run
value_of() {
    local placeholder=$1; shift
    echo "+ $*" >&2
    if $dry_run; then echo "$placeholder"; else "$@"; fi
}

region=${AWS_REGION:-}
[ -n "$region" ] || region=$(value_of us-east-1 aws configure get region)
account=${AWS_ACCOUNT_ID:-}
[ -n "$account" ] || account=$(value_of 123456789012 aws sts get-caller-identity --query Account --output text)
registry="$account.dkr.ecr.$region.amazonaws.com"

run docker build -t "$image:$tag" .
if $dry_run; then
    echo "+ aws ecr describe-repositories --repository-names $image --region $region || aws ecr create-repository --repository-name $image --region $region"
elif ! aws ecr describe-repositories --repository-names "$image" --region "$region" >/dev/null 2>&1; then
    run aws ecr create-repository --repository-name "$image" --region "$region"
fi
if $dry_run; then
    echo "+ aws ecr get-login-password --region $region | docker login --username AWS --password-stdin $registry"
else
    aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
fi
run docker tag "$image:$tag" "$registry/$image:$tag"
run docker push "$registry/$image:$tag"
if $dry_run; then echo "dry run: nothing was built or pushed"; else echo "pushed $registry/$image:$tag"; fi
