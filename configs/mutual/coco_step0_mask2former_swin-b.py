# Step 0 with the Swin-B backbone (paper appendix C, Table 9): mmdet's Swin Mask2Former
# instance-segmentation recipe (its Swin-S config) with mmdet's Swin-B settings (those of
# its panoptic Swin-B model, ImageNet-22K weights as the paper), on COCO without the
# RefCOCO/+/g evaluation images. The backbone equals configs/_base_/models/refmutual_swin-b.py,
# so step 1 (refcoco_step1_joint_swin-b.py) loads every extractor weight.
_base_ = [
    'mmdet::mask2former/mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py',
    '../_base_/datasets/coco_extractor_pretrain.py'
]
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window12_384_22k.pth'  # noqa
custom_imports = dict(imports=['mmrefmutual.datasets', 'mmrefmutual.engine'],
                      allow_failed_imports=False)
default_scope = 'mmrefmutual'
runner_type = 'mmrefmutual.RefRunner'
model = dict(
    backbone=dict(pretrain_img_size=384, embed_dims=128, num_heads=[4, 8, 16, 32],
                  window_size=12, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmrefmutual.ExtractorPretrainDataset',  # (the dict keeps mmdet's scope)
        data_root={{_base_.pretrain_data_root}},
        ann_file={{_base_.pretrain_ann_file}},
        data_prefix=dict(img_path={{_base_.pretrain_img_prefix}}),
        protected_refs_files={{_base_.protected_refs_files}},
        pipeline={{_base_.train_pipeline}}))
