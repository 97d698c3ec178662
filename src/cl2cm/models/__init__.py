"""Models: the text encoder, the cross-lingual teacher, the student, and model-directory I/O."""

from cl2cm.models.io import MODEL_KINDS, load_model, read_model_dir, register_model_kind, save_model_dir
from cl2cm.models.text import POOLINGS, TextEncoder, TextEncoderConfig, TextOutput, encode_texts

__all__ = [
    "MODEL_KINDS", "POOLINGS", "TextEncoder", "TextEncoderConfig", "TextOutput", "encode_texts", "load_model",
    "read_model_dir", "register_model_kind", "save_model_dir",
]
