"""Hand-made batches for the model tests: two images with three objects each."""
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

TEXTS = ['red square on the left', 'blue circle', 'small green star']


def make_batch(ori=(96, 80), size=(64, 64)):
    """Two images with 3 objects each; objects 1 and 2 are referred to."""
    h, w = size
    samples = []
    for i in range(2):
        meta = dict(img_shape=(64, 54), ori_shape=ori, pad_shape=size, batch_input_shape=size,
                    scale_factor=(54 / ori[1], 64 / ori[0]), img_id=i)
        s = DetDataSample(metainfo=meta)
        m = np.zeros((3, h, w), np.uint8)
        m[0, 4:20, 4:20] = 1
        m[1, 30:50, 30:52] = 1
        m[2, 8:28, 34:50] = 1
        boxes = torch.tensor([[4, 4, 20, 20], [30, 30, 52, 50], [34, 8, 50, 28]]).float()
        s.gt_instances = InstanceData(masks=BitmapMasks(m, h, w), labels=torch.tensor([0, 1, 2]),
                                      bboxes=boxes)
        s.gt_refs = InstanceData(inst_inds=torch.tensor([1, 2]), ref_ids=torch.tensor([10, 11]),
                                 ann_ids=torch.tensor([20, 21]), weights=torch.ones(2),
                                 sentences=[TEXTS[:1], TEXTS[1:]])
        s.gt_sents = InstanceData(ref_inds=torch.tensor([0, 1, 1]),
                                  sent_ids=torch.tensor([1, 2, 3]), texts=TEXTS)
        samples.append(s)
    torch.manual_seed(1)
    return torch.randn(2, 3, h, w), samples


def planted_outputs(samples, layers=3, num_queries=8, num_classes=5):
    """Class and mask logits (1/4 resolution) in which each layer's proposals fit the
    objects exactly, through a different query per layer: layer l gives object j of
    image i to query (3 * l + j + i) % num_queries."""
    cls_list, mask_list, owners = [], [], []
    for layer in range(layers):
        cls = torch.full((2, num_queries, num_classes + 1), -5.0)
        cls[..., -1] = 5.0  # "no object" unless planted
        masks = torch.full((2, num_queries, 16, 16), -10.0)
        owner = []
        for i, s in enumerate(samples):
            gt = torch.from_numpy(s.gt_instances.masks.masks).float()
            small = torch.nn.functional.interpolate(gt[None], (16, 16))[0]
            queries = [(3 * layer + j + i) % num_queries for j in range(3)]
            for j, q in enumerate(queries):
                masks[i, q] = small[j] * 20 - 10
                cls[i, q, j] = 5.0
                cls[i, q, -1] = -5.0
            owner.append(torch.tensor(queries))
        cls_list.append(cls)
        mask_list.append(masks)
        owners.append(owner)
    return cls_list, mask_list, owners
