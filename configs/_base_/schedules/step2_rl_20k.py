# Step 2 (paper, appendix B): the proposal extractor and the selection head are frozen and
# the indicated generation head is trained with AdamW, lr 1e-6, weight decay 0.05, for 20k
# iterations with 4 images per batch. The paper gives no lr schedule or gradient clipping
# for this step: constant lr, no clipping (our reading).
max_iters = 20000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-6, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)))
param_scheduler = None
# the paper's batch: 4 images (4 GPUs x 1)
auto_scale_lr = dict(enable=False, base_batch_size=4)
