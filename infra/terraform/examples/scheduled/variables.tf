variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the function and its scheduler jobs."
  type        = string
  default     = "europe-west1"
}

variable "cec_base_url" {
  description = "Base URL of your tenant's CEC API."
  type        = string
}

variable "caller_auth" {
  description = "CALLER_AUTH methods (iam, webhook, api_key)."
  type        = list(string)
  default     = ["iam"]
}

variable "public_access" {
  description = "Expose the function to allUsers (only with webhook/api_key)."
  type        = bool
  default     = false
}

variable "invoker_members" {
  description = "Extra principals allowed to call the function."
  type        = list(string)
  default     = []
}

variable "schedules" {
  description = "Cloud Scheduler jobs: name => { schedule, time_zone, dnids }."
  type = map(object({
    schedule  = string
    time_zone = optional(string, "Etc/UTC")
    dnids     = list(number)
  }))
  default = {}
}

variable "monitoring" {
  description = "Log-based metrics, alerts and dashboard (see infra/README.md, Monitoring); null for none."
  type = object({
    notification_channels  = optional(list(string), [])
    alert_window_seconds   = optional(number, 300)
    server_error_threshold = optional(number, 0)
  })
  default = {}
}
