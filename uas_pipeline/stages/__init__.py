"""Annotation stages (one module per backend) and the registry that names them."""
