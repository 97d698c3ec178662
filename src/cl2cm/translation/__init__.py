"""Machine translation of caption corpora into pseudo-parallel pairs (`cl2cm translate`).

The stage function is `cl2cm.translate(captions, out, config)` (`cl2cm.api.translate`); this package is
named `translation` so that the public function and the package never share a name.
"""
