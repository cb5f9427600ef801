"""Drawing of referring results on top of mmdet's ``DetLocalVisualizer``."""
from typing import Optional, Sequence

import numpy as np
from mmdet.visualization import DetLocalVisualizer

from mmrefmutual.registry import VISUALIZERS


@VISUALIZERS.register_module()
class RefLocalVisualizer(DetLocalVisualizer):
    """Draws masks and boxes with one expression per object."""

    def draw_referring(self, image: np.ndarray, masks: Optional[np.ndarray],
                       bboxes: Optional[np.ndarray], texts: Sequence[str],
                       out_file: Optional[str] = None) -> np.ndarray:
        """Draw referred objects and their expressions.

        Args:
            image (np.ndarray): RGB image (H, W, 3).
            masks (np.ndarray, optional): Bool (K, H, W).
            bboxes (np.ndarray, optional): (K, 4) xyxy.
            texts (Sequence[str]): One expression per object.
            out_file (str, optional): Where to write the PNG.

        Returns:
            np.ndarray: The drawn RGB image.
        """
        self.set_image(image)
        palette = [(46, 204, 64), (255, 65, 54), (0, 116, 217), (255, 133, 27),
                   (177, 13, 201), (57, 204, 204)]
        colors = [palette[i % len(palette)] for i in range(len(texts))]
        if masks is not None and len(masks):
            self.draw_binary_masks(masks.astype(bool), colors=colors, alphas=0.5)
        if bboxes is not None and len(bboxes):
            self.draw_bboxes(np.asarray(bboxes), edge_colors=colors, line_widths=2)
            for box, text, color in zip(np.asarray(bboxes), texts, colors):
                self.draw_texts(text, box[:2] + 2, colors=color, font_sizes=10,
                                bboxes=[dict(facecolor='black', alpha=0.6, pad=1)])
        drawn = self.get_image()
        if out_file is not None:
            import mmcv
            mmcv.imwrite(drawn[..., ::-1], out_file)
        return drawn
