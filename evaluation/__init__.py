"""Privacy evaluation of the anonymization: scenes with ground truth through the real stack."""
