#!/usr/bin/env bash
# Rolls out an overlay with the migrations first:
#   infra/k8s/rollout.sh infra/k8s/overlays/gpu      (or .../cpu)
# 1. deletes the previous migration Job (a Job's pod template cannot change),
# 2. applies only the objects labelled soravibe.io/phase=pre-rollout (namespace, service account,
#    the PostgreSQL NetworkPolicy, config maps, the migration Job),
# 3. waits for the Job to complete (and stops, with its log, when migrations fail),
# 4. applies everything: the Deployments roll out on the migrated schema.
# The Secrets must exist first (infra/k8s/secrets/README.md). KUBECTL overrides the command,
# MIGRATE_TIMEOUT_SECONDS the wait (900).
set -euo pipefail
overlay=${1:?usage: $0 infra/k8s/overlays/gpu|cpu}
kubectl=${KUBECTL:-kubectl}
ns=soravibe
timeout_s=${MIGRATE_TIMEOUT_SECONDS:-900}

"$kubectl" -n "$ns" delete job soravibe-migrate --ignore-not-found --wait=true
"$kubectl" apply -k "$overlay" -l soravibe.io/phase=pre-rollout
failed() {
  echo "rollout: $1; the migration Job's log:" >&2
  "$kubectl" -n "$ns" logs job/soravibe-migrate --tail=50 >&2 || true
  exit 1
}
deadline=$((SECONDS + timeout_s))
while :; do
  state=$("$kubectl" -n "$ns" get job soravibe-migrate \
    -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
  case " $state " in
    *" Complete "*) break ;;
    *" Failed "*) failed "migrations failed" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || failed "migrations did not finish within ${timeout_s}s"
  sleep 5
done
echo "rollout: migrations done" >&2
"$kubectl" apply -k "$overlay"
"$kubectl" -n "$ns" rollout status deployment/soravibe-api --timeout=10m
"$kubectl" -n "$ns" rollout status deployment/soravibe-generator --timeout=30m
