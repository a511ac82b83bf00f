"""The CEC client: transport with retries and deadlines, tokens, credentials, the called-route API, lookups."""
