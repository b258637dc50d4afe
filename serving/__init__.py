"""The gateway: serves the champion over the OpenAI Chat Completions API and records every
exchange and every piece of feedback into the landing zone (docs/gateway.md)."""
