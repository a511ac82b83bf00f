"""Who is calling and what they may do: authentication, policies, plan tokens, the audit record."""
