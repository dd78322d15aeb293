#!/usr/bin/env bash
# Checks Relay's deployment files within this machine's limits (no Docker daemon, no image pulls, no helm here):
#  - yamllint on the plain YAML (chart metadata and values, examples; Helm templates are not plain YAML)
#  - dockerfilelint on the Dockerfile
#  - the example manifests against Kubernetes' schemas, offline (npm kubernetes-models)
#  - helm lint and helm template + the same schema check on the rendered chart, when helm is on PATH
#  - the container image: built from the Dockerfile with podman and run against a throwaway PostgreSQL and the dev
#    broker (deploy/image-check.sh; skipped, saying why, where podman cannot run containers)
# Prints what it checked and what it skipped; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

failed=0
step() { echo; echo "== $*"; }
run() { if "$@"; then echo "PASS: $*"; else echo "FAIL: $*"; failed=1; fi; }

if ! command -v yamllint >/dev/null; then
    as_root apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq yamllint >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    as_root apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
fi
(cd deploy/verify && npm install --no-audit --no-fund --silent >/dev/null)

step "yamllint (plain YAML)"
run yamllint -c .yamllint.yaml deploy/helm/relay/Chart.yaml deploy/helm/relay/values.yaml deploy/helm/relay/examples deploy/examples

step "chart values against values.schema.json (ajv)"
ajv() { deploy/verify/node_modules/.bin/ajv validate --spec=draft7 --allow-union-types --all-errors --errors=text -s deploy/helm/relay/values.schema.json -d "$1"; }
for values in deploy/helm/relay/values.yaml deploy/helm/relay/examples/*.yaml; do
    run ajv "$values"
done
# The schema must refuse a misspelt key and wrong types, or it checks nothing.
if ajv deploy/verify/invalid-values/typos.yaml >/dev/null 2>&1; then
    echo "FAIL: values.schema.json accepted deploy/verify/invalid-values/typos.yaml"; failed=1
else
    echo "PASS: values.schema.json refuses deploy/verify/invalid-values/typos.yaml"
fi

step "chart files (the PrometheusRule and dashboard templates read them through links)"
for file in deploy/helm/relay/files/*; do
    run test -s "$file"
done

step "dockerfilelint (Dockerfile)"
run deploy/verify/node_modules/.bin/dockerfilelint Dockerfile

step "Kubernetes schemas (example manifests)"
run node deploy/verify/validate-manifests.mjs deploy/examples/*.yaml

step "alert rules (promtool check rules, promtool test rules)"
if ! command -v promtool >/dev/null; then
    as_root apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq prometheus >/dev/null
fi
run promtool check rules deploy/prometheus/relay-alerts.yaml
run promtool test rules deploy/prometheus/relay-alerts.test.yaml

step "helm lint / helm template"
if command -v helm >/dev/null; then
    run helm lint deploy/helm/relay
    rendered=$(mktemp --suffix=.yaml)
    for values in "" "--set metrics.serviceMonitor.enabled=true,podDisruptionBudget.enabled=true,networkPolicy.enabled=true,serviceAccount.create=true,replicaCount=2" \
        "--set metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true" "--set updateStrategy.type=Recreate" "-f deploy/helm/relay/examples/values-ha.yaml" "-f deploy/helm/relay/examples/values-recreate.yaml"; do
        # shellcheck disable=SC2086
        helm template relay deploy/helm/relay $values > "$rendered"
        run node deploy/verify/validate-manifests.mjs "$rendered"
    done
    rm -f "$rendered"
else
    echo "SKIPPED: helm is not on PATH (not installable here); the chart's templates were not rendered or linted."
fi

step "container image (podman: build the Dockerfile, run it against PostgreSQL and the dev broker)"
# Prints its own PASS/FAIL lines, or SKIPPED where podman cannot run (RELAY_SKIP_IMAGE_CHECK=1 skips it on purpose).
if ! bash deploy/image-check.sh; then echo "FAIL: deploy/image-check.sh"; failed=1; fi

echo
if [ "$failed" -ne 0 ]; then echo "deploy/verify.sh: FAILED"; exit 1; fi
echo "deploy/verify.sh: all checks that can run here passed"
