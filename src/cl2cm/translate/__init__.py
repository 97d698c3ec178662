"""Machine translation of caption corpora into pseudo-parallel pairs (`cl2cm translate`)."""
