"""mmrefmutual: mutual supervision of referring expression segmentation and generation.

Importing the package changes nothing outside it: no loader of mmengine, no op of mmcv.
"""
__version__ = '0.1.0'
