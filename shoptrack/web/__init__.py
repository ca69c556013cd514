"""The HTTP layer: thin handlers that parse, call the domain, and shape answers."""
