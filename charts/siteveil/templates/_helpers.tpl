{{/* Names, labels and the pieces shared by the production and shadow InferenceServices. */}}

{{- define "siteveil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "siteveil.fullname" -}}
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

{{- define "siteveil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "siteveil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "siteveil.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "siteveil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: siteveil
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Object names. */}}
{{- define "siteveil.isvcName" -}}
{{- default (include "siteveil.fullname" .) .Values.inference.name | trunc 45 | trimSuffix "-" -}}
{{- end -}}

{{- define "siteveil.shadowIsvcName" -}}
{{- printf "%s-shadow" (include "siteveil.isvcName" .) -}}
{{- end -}}

{{- define "siteveil.brokerName" -}}
{{- default (include "siteveil.fullname" .) .Values.broker.name -}}
{{- end -}}

{{- define "siteveil.brokerConfigName" -}}
{{- printf "%s-kafka-broker-config" (include "siteveil.fullname" .) -}}
{{- end -}}

{{- define "siteveil.kafkaAuthSecret" -}}
{{- if eq .Values.broker.auth.mode "msk-iam" -}}
{{- printf "%s-kafka-auth" (include "siteveil.fullname" .) -}}
{{- else if eq .Values.broker.auth.mode "secret" -}}
{{- required "broker.auth.existingSecret is required when broker.auth.mode is secret" .Values.broker.auth.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "siteveil.deadLetterName" -}}
{{- printf "%s-dead-letter" (include "siteveil.fullname" .) -}}
{{- end -}}

{{/*
The CloudEvent type the triggers filter on: the type the configured source emits, by
construction (there is no value to override it: a filter the source does not match processes
nothing, and the source has already deleted the SQS message). Upstream sources of each type:
- IntegrationSource aws.sqs: `dev.knative.eventing.aws-sqs` (knative-extensions/
  eventing-integrations aws-sqs-source/src/main/resources/application.properties, ce-type
  override, since Nov 2024; knative/eventing test/rekt/resources/integrationsource).
- TriggerMesh AWSEventBridgeSource: `com.amazon.events.event` (triggermesh/triggermesh
  docs: docs/sources/awseventbridge.md, "Events produced have the following attributes").
*/}}
{{- define "siteveil.eventType" -}}
{{- $types := dict "IntegrationSource" "dev.knative.eventing.aws-sqs" "AWSEventBridgeSource" "com.amazon.events.event" -}}
{{- required (printf "source.kind %q has no known event type" .Values.source.kind) (get $types .Values.source.kind) -}}
{{- end -}}

{{- define "siteveil.image" -}}
{{- $tag := default .default .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Path of a model's Triton repository under aws.modelStorageUri: model.repositoryPath, or else
`<name>/<version>`, where `python -m export publish` writes version <version> as a repository of
its own (export/publish.py `storage_uri`; tests/charts hold the two to the same URI).
Input: dict with model and key (the values path, for the error message).
*/}}
{{- define "siteveil.repositoryPath" -}}
{{- $path := trimAll "/" (default "" .model.repositoryPath) -}}
{{- if $path -}}
{{- $path -}}
{{- else -}}
{{- $version := toString (default "" .model.version) -}}
{{- if not $version -}}
{{- fail (printf "%s.version is required when %s.repositoryPath is empty: the published repository is <aws.modelStorageUri>/<name>/<version>" .key .key) -}}
{{- end -}}
{{- printf "%s/%s" .model.name $version -}}
{{- end -}}
{{- end -}}

{{/* STORAGE_URI of a model: the repository base URI joined with the model's repository path. */}}
{{- define "siteveil.storageUri" -}}
{{- printf "%s/%s" (trimSuffix "/" .base) (include "siteveil.repositoryPath" .) -}}
{{- end -}}

{{/*
The transformer's flags (contracts: KServe-compatible). Input: dict with root, model, shadow.
A shadow never gets --delete_original.
*/}}
{{- define "siteveil.transformerArgs" -}}
{{- $t := .root.Values.inference.transformer -}}
- --model_name={{ .model.name }}
{{- if .model.version }}
- --model_version={{ .model.version }}
{{- end }}
- --predictor_host=localhost:8085
- --predictor_protocol=v2
- --predictor_timeout={{ $t.predictorTimeoutSeconds }}
- --http_host=0.0.0.0
- --http_port=8080
- --workers={{ $t.workers }}
{{- with .root.Values.aws.resultsBucket }}
- --results_bucket={{ . }}
{{- end }}
- --upload_buckets={{ .root.Values.aws.uploadsBucket }}
- --anonymization_mode={{ $t.anonymizationMode }}
- --mask_threshold={{ $t.maskThreshold }}
{{- if not (kindIs "invalid" $t.maskDilationPx) }}
- --mask_dilation_px={{ $t.maskDilationPx }}
{{- end }}
- --output_format={{ $t.outputFormat }}
- --max_image_bytes={{ int64 $t.maxImageBytes }}
- --max_image_pixels={{ int64 $t.maxImagePixels }}
- --log_level={{ $t.logLevel }}
{{- with $t.models }}
{{- if not (has $.model.name .) }}
{{- fail "inference.transformer.models must include model.name (the model KServe names)" }}
{{- end }}
- --models={{ join "," . }}
{{- end }}
- --min_person_px={{ $t.minPersonPx }}
- --min_face_px={{ $t.minFacePx }}
- --max_detector_tiles={{ $t.maxDetectorTiles }}
{{- if .shadow }}
- --shadow
{{- else if $t.deleteOriginal }}
- --delete_original
{{- end }}
{{- range $t.extraArgs }}
{{- if hasPrefix "--delete_original" . }}
{{- fail "inference.transformer.extraArgs must not carry --delete_original: set inference.transformer.deleteOriginal (never passed to the shadow)" }}
{{- end }}
- {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
The GPU a TensorRT plan was built on, as Karpenter's `karpenter.k8s.aws/instance-gpu-name`
label names it, and the EC2 family that has it. A plan built without hardware compatibility
loads only on the GPU type it was built for (TensorRT developer guide, "Hardware
Compatibility"); g5 (A10G, Ampere) and g6 / g6e (L4 / L40S, Ada) are different types. Label
values per family: aws/karpenter-provider-aws website/content/en/preview/reference/instance-types.md.
*/}}
{{- define "siteveil.gpuFamilies" -}}
{{- toJson (dict "a10g" "g5" "l4" "g6" "l40s" "g6e" "t4" "g4dn" "a100" "p4d" "h100" "p5") -}}
{{- end -}}

{{/*
Pod-level scheduling shared by inference pods and the warm-capacity pods: the GPU node selector
and tolerations, plus the model's GPU type (`model.gpuName`) when its plan is pinned to one.
Input: dict with root and gpuName.
*/}}
{{- define "siteveil.gpuScheduling" -}}
{{- $selector := deepCopy (default dict .root.Values.inference.nodeSelector) -}}
{{- with .gpuName -}}
{{- $_ := set $selector "karpenter.k8s.aws/instance-gpu-name" . -}}
{{- end -}}
{{- with $selector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.inference.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The pause container of warm-capacity pods: it only holds a GPU (and some CPU/memory). */}}
{{- define "siteveil.warmContainer" -}}
image: {{ include "siteveil.image" (dict "image" .root.Values.warmCapacity.image "default" "latest") }}
imagePullPolicy: Always
resources:
  requests:
    cpu: {{ .cpu | quote }}
    memory: {{ .memory | quote }}
    {{- if .gpu }}
    nvidia.com/gpu: {{ .gpu }}
    {{- end }}
  limits:
    cpu: {{ .cpu | quote }}
    memory: {{ .memory | quote }}
    {{- if .gpu }}
    nvidia.com/gpu: {{ .gpu }}
    {{- end }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: [ALL]
{{- end -}}


{{/* The upload API: object name, pod labels, and its JWT settings derived from Cognito. */}}
{{- define "siteveil.apiName" -}}
{{- printf "%s-api" (include "siteveil.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "siteveil.apiSelectorLabels" -}}
{{ include "siteveil.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{/* https://cognito-idp.<region>.amazonaws.com/<pool id>; the pool id starts with its region. */}}
{{- define "siteveil.cognitoIssuer" -}}
{{- with .Values.aws.cognitoUserPoolId -}}
{{- printf "https://cognito-idp.%s.amazonaws.com/%s" (splitList "_" . | first) . -}}
{{- end -}}
{{- end -}}

{{/*
Replication factor of a Kafka topic: the value when set, else min(3, bootstrap servers). A topic
cannot have more replicas than the cluster has brokers; an explicit value above the number of
bootstrap servers is refused (each bootstrap server is a broker, so that many exist at least;
Terraform's helm_values sets the value from the real broker count). Input: dict with root,
value, key.
*/}}
{{- define "siteveil.replicationFactor" -}}
{{- $brokers := len (splitList "," .root.Values.aws.mskBootstrapServers) -}}
{{- if kindIs "invalid" .value -}}
{{- min 3 $brokers -}}
{{- else if gt (int .value) $brokers -}}
{{- fail (printf "%s (%v) exceeds the %d brokers of aws.mskBootstrapServers: Kafka would never create the topic" .key .value $brokers) -}}
{{- else -}}
{{- .value -}}
{{- end -}}
{{- end -}}
