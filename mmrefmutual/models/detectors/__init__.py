from .ref_mutual import RefMutual

__all__ = ['RefMutual']
