{{/* Name of the chart, overridable. */}}
{{- define "warmline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified prefix of every object (service names are appended to it). */}}
{{- define "warmline.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels that select the pods of one component: dict "root" $ "name" $name. */}}
{{- define "warmline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "warmline.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Labels of the release's objects that belong to no one component: the root context. */}}
{{- define "warmline.releaseLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "warmline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: warmline
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* All labels of one component's objects: dict "root" $ "name" $name. */}}
{{- define "warmline.labels" -}}
{{ include "warmline.releaseLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- /*
Kafka security (.Values.kafka), shared by every component and KEDA's scaler.
The Secrets are mounted as files because the settings read the password from a
file (WARMLINE_KAFKA__SASL_PASSWORD_FILE) and the certificates are files anyway;
only the user name, which the settings take as a value, comes in as a variable.
*/}}
{{- define "warmline.kafkaUsesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{- define "warmline.kafkaUsesTls" -}}
{{- if hasSuffix "SSL" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}

{{/* The settings the chart owns when it wires Kafka's security: set in no `env`. */}}
{{- define "warmline.kafkaOwnedSettings" -}}
{{- list "SECURITY_PROTOCOL" "SASL_MECHANISM" "SASL_USERNAME" "SASL_PASSWORD" "SASL_PASSWORD_FILE" "SSL_CAFILE" "SSL_CERTFILE" "SSL_KEYFILE" "SSL_CHECK_HOSTNAME" | toJson }}
{{- end }}

{{/*
Refuse a half-wired connection at render time, naming the value, as the
settings would refuse it at start-up; and refuse Secrets that the chosen
protocol would silently ignore. Root context; renders nothing.
*/}}
{{- define "warmline.checkKafka" -}}
{{- $k := .Values.kafka }}
{{- if include "warmline.kafkaUsesSasl" . }}
{{- if not $k.sasl.secretName }}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.sasl.secretName: a Secret holding the keys %s and %s" $k.securityProtocol $k.sasl.usernameKey $k.sasl.passwordKey) }}
{{- end }}
{{- else if $k.sasl.secretName }}
{{- fail (printf "kafka.sasl.secretName is set but kafka.securityProtocol=%s uses no SASL (SASL_PLAINTEXT or SASL_SSL)" $k.securityProtocol) }}
{{- end }}
{{- if and (not (include "warmline.kafkaUsesTls" .)) (or $k.tls.caSecretName $k.tls.clientSecretName) }}
{{- fail (printf "kafka.tls.caSecretName/clientSecretName are set but kafka.securityProtocol=%s uses no TLS (SSL or SASL_SSL)" $k.securityProtocol) }}
{{- end }}
{{- $owned := include "warmline.kafkaOwnedSettings" . | fromJsonArray }}
{{- /* Every place a variable can be named: the env maps' keys, the extraEnv entries' names. */}}
{{- $named := list }}
{{- range $key, $_ := .Values.env }}
{{- $named = append $named (list "env" $key) }}
{{- end }}
{{- range .Values.extraEnv }}
{{- $named = append $named (list "extraEnv" .name) }}
{{- end }}
{{- range $name, $svc := .Values.services }}
{{- if $svc }}
{{- range $key, $_ := ($svc.env | default dict) }}
{{- $named = append $named (list (printf "services.%s.env" $name) $key) }}
{{- end }}
{{- range ($svc.extraEnv | default list) }}
{{- $named = append $named (list (printf "services.%s.extraEnv" $name) .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $named }}
{{- $key := index . 1 }}
{{- if and (hasPrefix "WARMLINE_KAFKA__" $key) (has (trimPrefix "WARMLINE_KAFKA__" $key) $owned) }}
{{- fail (printf "%s: %s is set by the chart from the kafka block (kafka.securityProtocol, kafka.sasl, kafka.tls); set it there" (index . 0) $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The Kafka Secrets a pod mounts, as a YAML list of {name, secretName, keys}
(mounted at /var/run/secrets/warmline/<name>/<key>). Root context.
*/}}
{{- define "warmline.kafkaSecretMounts" -}}
{{- $k := .Values.kafka }}
{{- $mounts := list }}
{{- if include "warmline.kafkaUsesSasl" . }}
{{- $mounts = append $mounts (dict "name" "kafka-sasl" "secretName" $k.sasl.secretName "keys" (list $k.sasl.passwordKey)) }}
{{- end }}
{{- if and (include "warmline.kafkaUsesTls" .) $k.tls.caSecretName }}
{{- $mounts = append $mounts (dict "name" "kafka-ca" "secretName" $k.tls.caSecretName "keys" (list $k.tls.caKey)) }}
{{- end }}
{{- if and (include "warmline.kafkaUsesTls" .) $k.tls.clientSecretName }}
{{- $mounts = append $mounts (dict "name" "kafka-client" "secretName" $k.tls.clientSecretName "keys" (list $k.tls.certKey $k.tls.keyKey)) }}
{{- end }}
{{- toYaml $mounts }}
{{- end }}

{{/* The WARMLINE_KAFKA__* EnvVar entries for the Secrets above. Root context. */}}
{{- define "warmline.kafkaEnv" -}}
{{- $k := .Values.kafka }}
{{- $dir := "/var/run/secrets/warmline" -}}
- name: WARMLINE_KAFKA__SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
{{- if include "warmline.kafkaUsesSasl" . }}
- name: WARMLINE_KAFKA__SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
- name: WARMLINE_KAFKA__SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $k.sasl.secretName }}
      key: {{ $k.sasl.usernameKey }}
- name: WARMLINE_KAFKA__SASL_PASSWORD_FILE
  value: {{ printf "%s/kafka-sasl/%s" $dir $k.sasl.passwordKey | quote }}
{{- end }}
{{- if include "warmline.kafkaUsesTls" . }}
- name: WARMLINE_KAFKA__SSL_CHECK_HOSTNAME
  value: {{ $k.tls.checkHostname | toString | quote }}
{{- if $k.tls.caSecretName }}
- name: WARMLINE_KAFKA__SSL_CAFILE
  value: {{ printf "%s/kafka-ca/%s" $dir $k.tls.caKey | quote }}
{{- end }}
{{- if $k.tls.clientSecretName }}
- name: WARMLINE_KAFKA__SSL_CERTFILE
  value: {{ printf "%s/kafka-client/%s" $dir $k.tls.certKey | quote }}
- name: WARMLINE_KAFKA__SSL_KEYFILE
  value: {{ printf "%s/kafka-client/%s" $dir $k.tls.keyKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
KEDA's Kafka scaler reads the same Secrets through a TriggerAuthentication:
its secretTargetRef entries as a YAML list (empty: none needed). Root context.
*/}}
{{- define "warmline.kedaKafkaAuthParams" -}}
{{- $k := .Values.kafka }}
{{- $params := list }}
{{- if include "warmline.kafkaUsesSasl" . }}
{{- $params = append $params (dict "parameter" "username" "name" $k.sasl.secretName "key" $k.sasl.usernameKey) }}
{{- $params = append $params (dict "parameter" "password" "name" $k.sasl.secretName "key" $k.sasl.passwordKey) }}
{{- end }}
{{- if and (include "warmline.kafkaUsesTls" .) $k.tls.caSecretName }}
{{- $params = append $params (dict "parameter" "ca" "name" $k.tls.caSecretName "key" $k.tls.caKey) }}
{{- end }}
{{- if and (include "warmline.kafkaUsesTls" .) $k.tls.clientSecretName }}
{{- $params = append $params (dict "parameter" "cert" "name" $k.tls.clientSecretName "key" $k.tls.certKey) }}
{{- $params = append $params (dict "parameter" "key" "name" $k.tls.clientSecretName "key" $k.tls.keyKey) }}
{{- end }}
{{- toYaml $params }}
{{- end }}

{{/* Name of the chart's TriggerAuthentication for KEDA's Kafka scaler. Root context. */}}
{{- define "warmline.kedaKafkaAuthName" -}}
{{- printf "%s-kafka" (include "warmline.fullname" .) }}
{{- end }}
