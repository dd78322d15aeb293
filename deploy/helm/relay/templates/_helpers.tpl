{{/* Names and labels. */}}
{{- define "relay.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "relay.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
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
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
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
  {{- /* In library use .Chart is the application's chart, whose appVersion is not Relay's: a tag is required there. */}}
  {{- $tag := .Values.image.tag }}
  {{- if not $tag }}
  {{- if eq .Chart.Name "relay" }}
  {{- $tag = .Chart.AppVersion }}
  {{- else }}
  {{- $tag = required "relay.image.tag is required when Relay runs as a sidecar of another chart" .Values.image.tag }}
  {{- end }}
  {{- end }}
  image: "{{ .Values.image.repository }}:{{ $tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["--config", "/etc/relay/relay.json"]
  {{- with .Values.existingSecret }}
  envFrom:
    - secretRef:
        name: {{ . }}
  {{- end }}
  env:
    # One source for the port: metrics.port (the environment overrides relay.json).
    - name: Relay__Diagnostics__Port
      value: {{ .Values.metrics.port | quote }}
    {{- with .Values.extraEnv }}
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
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
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
