// Validates plain Kubernetes manifests against the Kubernetes schemas, offline (kubernetes-models). Catches wrong
// types and missing required fields; not unknown fields. Usage: node validate-manifests.mjs FILE...
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const kinds = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "ConfigMap"],
  "v1/Service": ["kubernetes-models/v1/Service", "Service"],
  "v1/ServiceAccount": ["kubernetes-models/v1/ServiceAccount", "ServiceAccount"],
  "v1/Secret": ["kubernetes-models/v1/Secret", "Secret"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "Deployment"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "PodDisruptionBudget"],
  "networking.k8s.io/v1/NetworkPolicy": ["kubernetes-models/networking.k8s.io/v1/NetworkPolicy", "NetworkPolicy"],
};

let failures = 0;
for (const file of process.argv.slice(2)) {
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  for (const document of documents) {
    if (document.errors.length) {
      console.log(`FAIL ${file}: ${document.errors[0].message}`);
      failures++;
      continue;
    }
    const manifest = document.toJS();
    if (!manifest) continue;
    const key = `${manifest.apiVersion}/${manifest.kind}`;
    const entry = kinds[key];
    if (!entry) {
      console.log(`SKIP ${file}: ${key} has no schema here`);
      continue;
    }
    const module = await import(entry[0]);
    try {
      new module[entry[1]](manifest).validate();
      console.log(`ok   ${file}: ${manifest.kind} ${manifest.metadata?.name}`);
    } catch (error) {
      console.log(`FAIL ${file}: ${manifest.kind} ${manifest.metadata?.name}: ${error.message}`);
      failures++;
    }
  }
}
process.exit(failures ? 1 : 0);
