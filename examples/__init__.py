"""Small runnable examples (``python -m examples.chat``)."""
