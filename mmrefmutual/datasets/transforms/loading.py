"""Image loading that always names the file it failed on."""
from typing import Optional

from mmcv.transforms import LoadImageFromFile

from mmrefmutual.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadRefImage(LoadImageFromFile):
    """:class:`mmcv.transforms.LoadImageFromFile` whose errors name the image.

    mmcv's loader names the path for a missing file, but not every decoding
    failure does (the ``'pillow'`` backend raises about an anonymous byte
    buffer, and its ``assert`` on an undecodable image vanishes under
    ``python -O``). Here every failure is an :class:`OSError` (the original
    :class:`FileNotFoundError` for a missing file) that contains the path.

    Args and keys: as :class:`mmcv.transforms.LoadImageFromFile`.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict | None: ``results`` with ``img``, ``img_shape``, ``ori_shape``;
            None when ``ignore_empty`` and the image cannot be read.
        """
        filename = results['img_path']
        try:
            loaded = super().transform(results)
        except FileNotFoundError as err:
            if str(filename) in str(err):
                raise
            raise FileNotFoundError(f'Image not found: {filename} ({err})') from err
        except Exception as err:
            raise OSError(f'Failed to load image {filename}: '
                          f'{type(err).__name__}: {err}') from err
        return loaded
