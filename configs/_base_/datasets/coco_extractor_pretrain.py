# Training data of step 0 (paper Sec. 4.1): COCO instances without any RefCOCO/+/g val/test
# image, served by ExtractorPretrainDataset (which removes them and checks every sample
# again where it is served). Layout as the refer API's (configs/_base_/datasets/refcoco.py):
#   data/coco/annotations/instances_train2014.json, data/coco/train2014/*.jpg
#   data/refcoco/refs(unc).p, data/refcoco+/refs(unc).p, data/refcocog/refs(umd).p,
#   data/refcocog/refs(google).p
# For train2017 (the same image ids, so the same images are removed):
#   --cfg-options train_dataloader.dataset.ann_file=coco/annotations/instances_train2017.json \
#                 train_dataloader.dataset.data_prefix.img_path=coco/train2017/
pretrain_data_root = 'data/'
pretrain_ann_file = 'coco/annotations/instances_train2014.json'
pretrain_img_prefix = 'coco/train2014/'
protected_refs_files = [
    'refcoco/refs(unc).p', 'refcoco+/refs(unc).p', 'refcocog/refs(umd).p',
    'refcocog/refs(google).p'
]
