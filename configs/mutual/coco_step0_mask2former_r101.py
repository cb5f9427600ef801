# Step 0 (paper Sec. 4.1): Mask2Former R-101 instance segmentation pre-trained on COCO with
# every RefCOCO/+/g val/test image removed; step 1 starts from it (load_from). mmdet's own
# recipe, inherited: LSJ at 1024 px, AdamW lr 1e-4, 368,750 iterations of 16 images
# (8 GPUs x 2), ImageNet-initialised backbone. Only the training data changes, and the
# runner (safe checkpoint loading). Chain: README "The three steps".
_base_ = [
    'mmdet::mask2former/mask2former_r101_8xb2-lsj-50e_coco.py',
    '../_base_/datasets/coco_extractor_pretrain.py'
]
custom_imports = dict(imports=['mmrefmutual.datasets', 'mmrefmutual.engine'],
                      allow_failed_imports=False)
default_scope = 'mmrefmutual'  # our registries are children of mmdet's: both resolve
runner_type = 'mmrefmutual.RefRunner'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmrefmutual.ExtractorPretrainDataset',  # (the dict keeps mmdet's scope)
        data_root={{_base_.pretrain_data_root}},
        ann_file={{_base_.pretrain_ann_file}},
        data_prefix=dict(img_path={{_base_.pretrain_img_prefix}}),
        protected_refs_files={{_base_.protected_refs_files}},
        pipeline={{_base_.train_pipeline}}))
