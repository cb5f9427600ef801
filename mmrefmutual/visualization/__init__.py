from .ref_visualizer import RefLocalVisualizer

__all__ = ['RefLocalVisualizer']
