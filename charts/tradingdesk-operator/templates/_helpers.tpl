{{- define "tdo.name" -}}{{ .Release.Name }}-tradingdesk-operator{{- end -}}
{{- define "tdo.labels" -}}
app.kubernetes.io/name: tradingdesk-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "tdo.selector" -}}
app.kubernetes.io/name: tradingdesk-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "tdo.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{- end -}}
{{- define "tdo.webhookConfiguration" -}}tradingdesk.io.validating{{- end -}}

{{/*
RBAC: exactly what the operator calls (operator/deskoperator/*, and kopf on its behalf), nothing more.
tests/chart/test_chart_rbac.py compares these rules with the code. In a desk's namespace:
- desks: kopf lists and watches them and patches its finalizer and annotations; drift repair reads one;
  status is written with a merge patch (deskoperator.kube.Kube.patch_status);
- a desk's children (deskoperator.kube.CHILD_KINDS): read, server-side apply (patch; create for a new object),
  prune (delete), and watch for drift and status (deskoperator.handlers.CHILDREN). Creating a desk's Role
  needs no `bind` or `escalate`: the operator holds the read it grants (its ConfigMap and TradingDesk);
- Events about desks (kopf posts them).
*/}}
{{- define "tdo.deskRules" -}}
- apiGroups: [tradingdesk.io]
  resources: [tradingdesks]
  verbs: [get, list, watch, patch]
- apiGroups: [tradingdesk.io]
  resources: [tradingdesks/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [configmaps, serviceaccounts, services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [monitoring.coreos.com]
  resources: [prometheusrules, servicemonitors]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/* kopf peering: the operator creates the peering object (Kube.ensure_peering); kopf watches and patches it. */}}
{{- define "tdo.peeringRule" -}}
- apiGroups: [kopf.dev]
  resources: [{{ . }}]
  verbs: [list, watch, patch, create]
{{- end -}}

{{/* The validating webhook's configuration, kept up to date by kopf: created once, then patched by name. */}}
{{- define "tdo.webhookRules" -}}
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  verbs: [create]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  resourceNames: [{{ include "tdo.webhookConfiguration" . }}]
  verbs: [patch]
{{- end -}}
