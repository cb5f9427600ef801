# The paper's model with a Swin-B backbone (appendix C, Table 9): only the backbone and the
# channels the extractor reads from it change; every *_swin-b.py config takes its backbone from here.
# The paper's Swin-B is pre-trained on ImageNet-22K; as for ResNet-101, the COCO-trained
# Mask2Former is loaded with `load_from`.
_base_ = './refmutual_r101.py'
depths = [2, 2, 18, 2]
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        depths=depths,
        num_heads=[4, 8, 16, 32],
        window_size=12,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=True,
        init_cfg=None),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
