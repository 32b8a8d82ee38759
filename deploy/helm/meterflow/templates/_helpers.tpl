{{- define "meterflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "meterflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meterflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "meterflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meterflow
{{- end -}}

{{- define "meterflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meterflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meterflow.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret -}}
{{- .Values.credentials.existingSecret -}}
{{- else if .Values.credentials.env -}}
{{- printf "%s-credentials" (include "meterflow.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
One Deployment of one component. Arguments (a dict):
  root       the chart's root context
  component  name of the component (collect-aws, process-normalize, sink, publisher, ...)
  args       the meterflow command line after the entrypoint
  replicas   number of pods
  singleton  true: Recreate (the old pod stops before the new one starts); false: RollingUpdate
  resources  this component's resources (empty: .Values.resources)
  ops        true: serves the ops endpoint (probes on /healthz and /readyz of opsPort)
  httpPort   the API's port (probes on it instead), or 0
  env        extra environment variables (a list)
*/}}
{{- define "meterflow.deployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $fullname := include "meterflow.fullname" $root -}}
{{- $secret := include "meterflow.credentialsSecret" $root -}}
{{- $probePort := "" -}}
{{- if .httpPort }}{{ $probePort = "http" }}{{ else if .ops }}{{ $probePort = "ops" }}{{ end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}-{{ .component }}
  labels:
    {{- include "meterflow.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  replicas: {{ .replicas }}
  revisionHistoryLimit: 5
  strategy:
    {{- if .singleton }}
    type: Recreate
    {{- else }}
    type: RollingUpdate
    rollingUpdate: { maxSurge: 1, maxUnavailable: 0 }
    {{- end }}
  selector:
    matchLabels:
      {{- include "meterflow.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
  template:
    metadata:
      labels:
        {{- include "meterflow.selectorLabels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .component }}
        app.kubernetes.io/part-of: meterflow
        {{- if .ops }}
        meterflow.io/ops-endpoint: "true"
        {{- end }}
      annotations:
        # A changed configuration rolls the pods.
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: "{{ $v.image.repository }}:{{ $v.image.tag | default $root.Chart.AppVersion }}"
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            - name: METERFLOW_CONFIG
              value: /etc/meterflow/meterflow.yaml
            - name: METERFLOW_OPS__HOST
              value: 0.0.0.0
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $secret }}
          envFrom:
            - secretRef:
                name: {{ $secret }}
          {{- end }}
          ports:
            {{- if .ops }}
            - name: ops
              containerPort: {{ $v.opsPort }}
              protocol: TCP
            {{- end }}
            {{- if .httpPort }}
            - name: http
              containerPort: {{ .httpPort }}
              protocol: TCP
            {{- end }}
          {{- if $probePort }}
          livenessProbe:
            httpGet: { path: /healthz, port: {{ $probePort }} }
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet: { path: /readyz, port: {{ $probePort }} }
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml (.resources | default $v.resources) | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/meterflow
              readOnly: true
            # The root file system is read-only; Node and the SDKs may still write temporary files.
            - name: tmp
              mountPath: /tmp
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ $fullname }}-config
        - name: tmp
          emptyDir: {}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for a component that runs more than one replica. */}}
{{- define "meterflow.pdb" -}}
{{- $root := .root -}}
{{- if and $root.Values.podDisruptionBudget.enabled (gt (int .replicas) 1) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "meterflow.fullname" $root }}-{{ .component }}
  labels:
    {{- include "meterflow.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  maxUnavailable: {{ $root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "meterflow.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}
