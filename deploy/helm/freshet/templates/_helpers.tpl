{{/* Names and labels shared by every template. */}}

{{- define "freshet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "freshet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "freshet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "freshet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "freshet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "freshet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "freshet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "freshet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding tokens.json, and its key; empty when tokens are off. */}}
{{- define "freshet.tokensSecret" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else if or .Values.auth.tokens .Values.auth.generateAdminToken }}
{{- printf "%s-tokens" (include "freshet.fullname" .) }}
{{- end }}
{{- end }}

{{- define "freshet.tokensKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}tokens.json{{ end }}
{{- end }}

{{/* The Secret holding the ClickHouse url, and its key; empty for the embedded store. */}}
{{- define "freshet.storeSecret" -}}
{{- if .Values.clickhouse.existingSecret }}
{{- .Values.clickhouse.existingSecret }}
{{- else if .Values.clickhouse.url }}
{{- printf "%s-store" (include "freshet.fullname" .) }}
{{- end }}
{{- end }}

{{- define "freshet.storeKey" -}}
{{- if .Values.clickhouse.existingSecret }}{{ .Values.clickhouse.existingSecretKey }}{{ else }}url{{ end }}
{{- end }}
