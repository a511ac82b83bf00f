# Example root: one private function, deleting the called routes of two DNIDs
# every night. Copy terraform.tfvars.example to terraform.tfvars and edit it.

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.14"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.9"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "called_routes" {
  source = "../.."

  project_id      = var.project_id
  region          = var.region
  cec_base_url    = var.cec_base_url
  caller_auth     = var.caller_auth
  public_access   = var.public_access
  invoker_members = var.invoker_members
  schedules       = var.schedules
  monitoring      = var.monitoring
}
