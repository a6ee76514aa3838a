# Terraform (terraform/): formatting, validation, offline tests, checkov, and the chart values.
# terraform is not installable from a package registry: these targets use the binary on PATH and
# the AWS provider mirror of the machine image (DESIGN.md §4). `make test` runs the same checks
# through tests/terraform (which skip, saying why, where terraform or the mirror is absent).

TF ?= terraform
# The folder holding registry.terraform.io/hashicorp/aws/<version> (a filesystem mirror).
TF_PLUGIN_DIR ?= $(or $(SITEVEIL_TF_PLUGIN_DIR),$(patsubst %/registry.terraform.io,%,$(firstword $(wildcard /opt/tf-plugins/registry.terraform.io $(HOME)/.terraform.d/plugins/registry.terraform.io /usr/local/share/terraform/plugins/registry.terraform.io))))
TF_ROOTS = $(sort $(wildcard terraform/modules/*/ terraform/examples/*/))
# terraform-helm-values: which root, which state (empty: the root's own), which file to write.
TF_DIR ?= terraform/examples/complete
TF_STATE ?=
HELM_VALUES ?= aws-values.json

.PHONY: terraform-fmt terraform-init terraform-validate terraform-test terraform-checkov terraform-check terraform-helm-values

terraform-fmt:
	$(TF) fmt -check -recursive -diff terraform

terraform-init:
	@test -n "$(TF_PLUGIN_DIR)" || { echo "no hashicorp/aws provider mirror found: set SITEVEIL_TF_PLUGIN_DIR" >&2; exit 1; }
	@for root in $(TF_ROOTS); do \
	  echo "terraform init $$root"; \
	  $(TF) -chdir=$$root init -backend=false -input=false -no-color -plugin-dir=$(abspath $(TF_PLUGIN_DIR)) >/dev/null || exit 1; \
	done

terraform-validate: terraform-init
	@for root in $(TF_ROOTS); do echo "terraform validate $$root"; $(TF) -chdir=$$root validate -no-color || exit 1; done

# Offline: the complete example against a mocked provider, and every input validation.
terraform-test: terraform-init
	$(TF) -chdir=terraform/examples/complete test -no-color

terraform-checkov: checkov-venv
	$(CHECKOV) --skip-download --framework terraform --directory terraform --skip-path '\.terraform' --compact --quiet

terraform-check: terraform-fmt terraform-validate terraform-test terraform-checkov

# After `terraform apply` in TF_DIR: the chart's aws.* values (JSON is YAML) for `helm -f`.
terraform-helm-values:
	$(TF) -chdir=$(TF_DIR) output -no-color -json $(if $(TF_STATE),-state=$(abspath $(TF_STATE))) helm_values > $(HELM_VALUES).tmp
	mv $(HELM_VALUES).tmp $(HELM_VALUES)
	@echo "wrote $(HELM_VALUES): helm upgrade --install siteveil charts/siteveil --namespace $$($(TF) -chdir=$(TF_DIR) output -raw $(if $(TF_STATE),-state=$(abspath $(TF_STATE))) namespace) --create-namespace -f $(HELM_VALUES)"
