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
- Events about desks (kopf posts them);
- pods: watched to explain missing replicas (placement, failed nodes), and the switchover of a rolling upgrade
  deletes the old active pod of routing or risk (deskoperator.switchover).
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
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [monitoring.coreos.com]
  resources: [prometheusrules, servicemonitors]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, delete]
{{- /* each desk's CA and service certificates, or cert-manager's objects for them (docs/security.md) */}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch]
- apiGroups: [cert-manager.io]
  resources: [issuers, certificates]
  verbs: [get, create, patch]
{{- end -}}

{{/* Leadership: the Lease in the operator's own namespace (deskoperator/leader.py); the renew is a PUT (update). */}}
{{- define "tdo.leaseRule" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
{{- end -}}

{{/* The validating webhook's configuration: every replica applies it (server-side apply: create, then patch). */}}
{{- define "tdo.webhookRules" -}}
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  verbs: [create]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  resourceNames: [{{ include "tdo.webhookConfiguration" . }}]
  verbs: [patch]
{{- end -}}
