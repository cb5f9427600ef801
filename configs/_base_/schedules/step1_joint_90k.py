# Step 1 (paper, appendix B): AdamW lr 5e-4, weight decay 0.05, 90k iterations,
# 8 images per batch, lr x0.1 at 60k and 80k.
max_iters = 90000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    # Not stated in the paper (our choice): Mask2Former's own recipe for the extractor
    # (backbone lr x0.1, no decay on query/level embeddings, clip 0.01) and BERT at lr x0.1.
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1, decay_mult=1.0),
            'text_encoder': dict(lr_mult=0.1),
            'query_embed': dict(lr_mult=1.0, decay_mult=0.0),
            'query_feat': dict(lr_mult=1.0, decay_mult=0.0),
            'level_embed': dict(lr_mult=1.0, decay_mult=0.0),
        },
        norm_decay_mult=0.0))
param_scheduler = dict(
    type='MultiStepLR', begin=0, end=max_iters, by_epoch=False,
    milestones=[60000, 80000], gamma=0.1)
# the paper's batch: 8 images (8 GPUs x 1)
auto_scale_lr = dict(enable=False, base_batch_size=8)
