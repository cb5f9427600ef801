from .inference import describe, init_model, segment

__all__ = ['init_model', 'segment', 'describe']
