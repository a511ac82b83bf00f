output "uri" {
  description = "Function URI: the URL the tools call."
  value       = module.called_routes.uri
}

output "function_name" {
  description = "Function name."
  value       = module.called_routes.function_name
}

output "service_account_email" {
  description = "Runtime service account."
  value       = module.called_routes.service_account_email
}

output "secret_ids" {
  description = "Secrets to add versions to."
  value       = module.called_routes.secret_ids
}

output "required_apis" {
  description = "The Google APIs the deployment uses."
  value       = module.called_routes.required_apis
}

output "alerts_notify" {
  description = "Who the alerts notify."
  value       = module.called_routes.alerts_notify
}
