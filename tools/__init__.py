"""Tools for developers working from a clone: building Go programs and the datasets."""
