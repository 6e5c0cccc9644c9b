"""The coverage report of SPEC 5"""
