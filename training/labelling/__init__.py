"""The labelling workflow: the unlabelled pool and its ingest, language id, annotations and adjudication."""
