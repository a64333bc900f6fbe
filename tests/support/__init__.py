"""Test support code: the fake model, synthetic corpora, index fingerprints."""
