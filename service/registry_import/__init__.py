"""`geohazard import`: a registry (hazard points, devices and sensors, people, grids) from an agency's ledger.

`sources` reads a JSON document or CSV files into rows that know their file and row; `service` judges each
row with the API's own pydantic models and writes through the API's own service functions in one
transaction; `command` is the command line. It imports from the service packages, never the reverse.
"""
