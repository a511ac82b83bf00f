"""The interface documents: OpenAPI 3.1 built from the models, 3.0 and Swagger 2.0
derived from it, and the Power Automate connector."""
