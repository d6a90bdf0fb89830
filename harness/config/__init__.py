"""What users write, as data: the KIND:key=value grammar and retry policies."""
