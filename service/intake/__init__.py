"""What ingest could not take"""
