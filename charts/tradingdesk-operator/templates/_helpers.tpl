{{- define "tdo.name" -}}{{ .Release.Name }}-tradingdesk-operator{{- end -}}
{{- define "tdo.labels" -}}
app.kubernetes.io/name: tradingdesk-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "tdo.selector" -}}
app.kubernetes.io/name: tradingdesk-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "tdo.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}
