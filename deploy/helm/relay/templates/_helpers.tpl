{{/* Names and labels. */}}
{{- define "relay.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "relay.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "relay.labels" -}}
{{ include "relay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
The Relay container, shared by this chart's Deployment and by applications that run Relay as a sidecar:

  containers:
    - name: my-service
      ...
    {{- include "relay.container" (dict "Values" .Values.relay "configMap" "my-service-relay" "Chart" .Chart) | nindent 4 }}
  volumes:
    {{- include "relay.volumes" (dict "configMap" "my-service-relay") | nindent 4 }}

where .Values.relay has this chart's image, existingSecret, extraEnv, resources, probes, securityContext and metrics keys.
*/}}
{{- define "relay.container" -}}
- name: relay
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["--config", "/etc/relay/relay.json"]
  {{- with .Values.existingSecret }}
  envFrom:
    - secretRef:
        name: {{ . }}
  {{- end }}
  {{- with .Values.extraEnv }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: metrics
      containerPort: {{ .Values.metrics.port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: metrics
    initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  {{- /* A sidecar relay must not gate its application's traffic: probes.readiness.enabled=false leaves it out. */}}
  {{- if ne (toString .Values.probes.readiness.enabled) "false" }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: metrics
    initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: relay-config
      mountPath: /etc/relay
      readOnly: true
    - name: relay-tmp
      mountPath: /tmp
{{- end -}}

{{- define "relay.volumes" -}}
- name: relay-config
  configMap:
    name: {{ .configMap }}
- name: relay-tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end -}}

{{/* Relay's configuration file (relay.json) from a values map shaped like this chart's .Values.config. */}}
{{- define "relay.configJson" -}}
{{- toPrettyJson . -}}
{{- end -}}
