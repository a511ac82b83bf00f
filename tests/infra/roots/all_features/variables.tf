# Types only; the values (none of them a module default) are in terraform.tfvars.
variable "project_id" {
  description = "Project of the plan."
  type        = string
}
variable "region" {
  description = "Region."
  type        = string
}
variable "source_dir" {
  description = "Repository root with main.py, requirements.txt and function/."
  type        = string
}
variable "runtime" {
  description = "Python runtime."
  type        = string
}
variable "invoker_members" {
  description = "Extra invokers."
  type        = list(string)
}
variable "cec_base_url" {
  description = "CEC API base URL."
  type        = string
}
variable "cec_token_url" {
  description = "tokenByAkSk URL."
  type        = string
}
variable "log_level" {
  description = "LOG_LEVEL."
  type        = string
}
variable "request_budget_seconds" {
  description = "REQUEST_BUDGET_SECONDS."
  type        = number
}
variable "timeout_seconds" {
  description = "Function timeout."
  type        = number
}
variable "available_memory" {
  description = "Memory."
  type        = string
}
variable "available_cpu" {
  description = "vCPUs."
  type        = string
}
variable "max_instance_request_concurrency" {
  description = "Concurrency."
  type        = number
}
variable "min_instance_count" {
  description = "Warm instances."
  type        = number
}
variable "max_instance_count" {
  description = "Most instances."
  type        = number
}
variable "ingress_settings" {
  description = "Ingress."
  type        = string
}
variable "extra_environment_variables" {
  description = "Tuning variables."
  type        = map(string)
}
variable "schedules" {
  description = "Scheduler jobs (module \"scheduled\" only)."
  type        = any
}
variable "scheduler_retry" {
  description = "Scheduler retry policy."
  type        = any
}
variable "labels" {
  description = "Labels."
  type        = map(string)
}
variable "iam_propagation_seconds" {
  description = "Wait after IAM grants."
  type        = number
}
variable "monitoring" {
  description = "Monitoring settings."
  type        = any
}
variable "plan_tokens" {
  description = "Plan-token signing keys secret."
  type        = bool
}
variable "caller_policies" {
  description = "Caller policies secret."
  type        = bool
}
variable "audit_retention_days" {
  description = "Audit retention."
  type        = number
}
variable "notification_emails" {
  description = "Alert e-mail addresses."
  type        = list(string)
}
variable "protected_access_codes" {
  description = "Protected hotlines."
  type        = list(string)
}
variable "secret_replica_locations" {
  description = "Secret replica locations."
  type        = list(string)
}
variable "vpc_connector" {
  description = "Serverless VPC Access connector."
  type        = string
}
variable "audit_project" {
  description = "Logging project."
  type        = string
}
variable "audit_kms_key_name" {
  description = "Audit key."
  type        = string
}
variable "secret_kms_key_names" {
  description = "Secret keys by location."
  type        = map(string)
}
